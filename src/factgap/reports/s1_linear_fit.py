"""S1: Gekhman et al.'s linear model of accuracy in the fitted Known / Unknown examples.

    acc = b0 + b_kn * N_kn / |D| + b_unk * N_unk / |D|

N_kn, N_unk: Known / Unknown training examples the model fits (exact match on the training
example) at that point of training; |D|: training-set size. Two fits per (model, dataset):
  * "dev, every epoch": one point per (training set, epoch), acc = dev exact match then;
  * "test, early stop and convergence": one point per (training set, stage), acc = 0-shot test
    exact match of that variant, N_kn / N_unk at that stage's epoch.
Ordinary least squares with numpy; the paper's in-distribution fit (in points of accuracy) was
b0 = 36.9, b_kn = 7.3, b_unk = -8.3, R^2 = 0.86: fitting Unknown examples hurts, Known ones help.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from factgap.naming import variant_label
from factgap.reports.common import Report, ReportInputs, finish_figure, zero_shot_test

TITLE = "Linear model of accuracy in the fraction of fitted Known / Unknown training examples"
PARAMS = ("b0", "b_kn", "b_unk")
FIT_DEV = "dev, every epoch"
FIT_TEST = "test, early stop and convergence"
PAPER_FIT = {"b0": 36.9, "b_kn": 7.3, "b_unk": -8.3, "r2": 0.86}
KEYS = ["model", "dataset", "training_set"]
PAPER_FINDING = (
    "Gekhman et al. 2024 (linear model of test accuracy): test accuracy is well described (R² = 0.86 in "
    "distribution) by a linear model in "
    "the fractions of fitted Known and fitted Unknown training examples, with an intercept of 36.9 points, +7.3 for "
    "fitted Known and -8.3 for fitted Unknown examples: fitting Unknown examples costs about as much as fitting Known "
    "ones gains."
)
MAX_FITS = 4
EXCLUDED_PREFIXES = ("idk-",)  # relabelled sets: "fitting" an Unknown example means saying "I don't know"


def ols_fit(x, y) -> dict:
    """OLS of ``y`` on an intercept and the columns of ``x``.

    Returns coef and se (arrays, intercept first), r2, n and rank. Needs at least one point more
    than parameters (a residual degree of freedom for the standard errors).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{x.shape[0]} rows of predictors but {y.shape[0]} responses")
    n, p = x.shape[0], x.shape[1] + 1
    if n < p + 1:
        raise ValueError(f"{n} points cannot fit {p} parameters with a residual degree of freedom (need >= {p + 1})")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("the fit's inputs hold NaN or infinite values")
    design = np.column_stack([np.ones(n), x])
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coef
    rss = float(residuals @ residuals)
    tss = float(((y - y.mean()) ** 2).sum())
    # R² is undefined for a constant response; floating-point residue makes its TSS a tiny positive
    # number (1e-33 for ten equal accuracies), so "constant" is judged against the response's scale
    constant = tss <= 1e-12 * max(1.0, float(y @ y))
    r2 = float("nan") if constant else 1.0 - rss / tss
    if rank < p:  # collinear predictors: coefficients not identified, no standard errors
        se = np.full(p, np.nan)
    else:
        sigma2 = rss / (n - p)
        se = np.sqrt(np.clip(np.diag(np.linalg.inv(design.T @ design)) * sigma2, 0, None))
    return {"coef": coef, "se": se, "r2": r2, "n": n, "rank": int(rank)}


def fitted_counts(history: pd.DataFrame, known, unknown) -> pd.DataFrame:
    """Per (model, dataset, training_set, epoch): |D|, N_kn, N_unk, their fractions, and dev EM."""
    from factgap.splits import knowledge_group

    rows = []
    for key, group in history.groupby([*KEYS, "epoch"], sort=True):
        train = group[group["eval_set"] == "train"]
        dev = group[group["eval_set"] == "dev"]
        if train.empty:
            continue
        kinds = train["category"].map(lambda c: knowledge_group(c, known, unknown) if isinstance(c, str) else "other")
        correct = train["correct"].astype(bool)
        n_kn, n_unk = int((correct & (kinds == "known")).sum()), int((correct & (kinds == "unknown")).sum())
        rows.append(
            dict(
                zip([*KEYS, "epoch"], key),
                train_size=len(train),
                n_known_fit=n_kn,
                n_unknown_fit=n_unk,
                frac_known_fit=n_kn / len(train),
                frac_unknown_fit=n_unk / len(train),
                dev_em=float(dev["correct"].mean()) if len(dev) else float("nan"),
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            *KEYS,
            "epoch",
            "train_size",
            "n_known_fit",
            "n_unknown_fit",
            "frac_known_fit",
            "frac_unknown_fit",
            "dev_em",
        ],
    )


def _included(training_set: str) -> bool:
    return not training_set.startswith(EXCLUDED_PREFIXES)


def dev_points(counts: pd.DataFrame) -> pd.DataFrame:
    """Fit (a): every epoch of every training set, acc = dev EM."""
    pts = counts[counts["training_set"].map(_included) & counts["dev_em"].notna()].copy()
    pts["fit"], pts["stage"], pts["acc"] = FIT_DEV, "", pts["dev_em"]
    return pts.drop(columns=["dev_em"])


def test_points(counts: pd.DataFrame, summary: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """Fit (b): each training set at early stop and convergence, acc = 0-shot test EM of that variant."""
    test = zero_shot_test(predictions)
    em = test.groupby(["model", "dataset", "variant"])["correct"].mean()
    rows = []
    for key, group in summary.groupby(KEYS, sort=True):
        if not _included(key[2]):
            continue
        for stage, flag in (("early_stop", "is_early_stop"), ("convergence", "is_convergence")):
            epochs = group.loc[group[flag].astype(bool), "epoch"]
            if len(epochs) != 1:
                raise ValueError(f"{'/'.join(key)}: the summary must mark exactly one {stage} epoch")
            variant = variant_label(key[2], stage)
            if (key[0], key[1], variant) not in em.index:
                continue
            at = counts[
                (counts["model"] == key[0])
                & (counts["dataset"] == key[1])
                & (counts["training_set"] == key[2])
                & (counts["epoch"] == int(epochs.iloc[0]))
            ]
            if at.empty:
                raise ValueError(
                    f"{'/'.join(key)}: no training-example record at the {stage} epoch {int(epochs.iloc[0])}"
                )
            row = at.iloc[0].drop("dev_em").to_dict()
            row.update(fit=FIT_TEST, stage=stage, acc=float(em[(key[0], key[1], variant)]))
            rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[
            *KEYS,
            "epoch",
            "train_size",
            "n_known_fit",
            "n_unknown_fit",
            "frac_known_fit",
            "frac_unknown_fit",
            "fit",
            "stage",
            "acc",
        ],
    )


def build_table(points: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, dataset, fit): coefficients, standard errors, R^2, n (fractions of EM).

    A fit with too few points keeps its row with NaN coefficients and says why in ``status``.
    """
    rows = []
    for (model, dataset, fit), group in points.groupby(["model", "dataset", "fit"], sort=True):
        row = {
            "model": model,
            "dataset": dataset,
            "fit": fit,
            "n": len(group),
            "n_training_sets": group["training_set"].nunique(),
        }
        try:
            res = ols_fit(group[["frac_known_fit", "frac_unknown_fit"]].to_numpy(), group["acc"].to_numpy())
        except ValueError as err:
            row.update(
                {
                    **{p: float("nan") for p in PARAMS},
                    **{f"{p}_se": float("nan") for p in PARAMS},
                    "r2": float("nan"),
                    "status": str(err),
                }
            )
        else:
            for name, c, s in zip(PARAMS, res["coef"], res["se"]):
                row[name], row[f"{name}_se"] = float(c), float(s)
            row["r2"] = res["r2"]
            row["status"] = "ok" if res["rank"] == len(PARAMS) else "collinear predictors: coefficients not identified"
        rows.append(row)
    return pd.DataFrame(rows)


def predict(table_row, points: pd.DataFrame) -> np.ndarray:
    return (
        table_row["b0"]
        + table_row["b_kn"] * points["frac_known_fit"].to_numpy()
        + table_row["b_unk"] * points["frac_unknown_fit"].to_numpy()
    )


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Coefficients in points of exact match (x100), as in the paper."""
    out = table[["model", "dataset", "fit", "n", "n_training_sets"]].copy()
    for name in PARAMS:
        out[name] = [
            ("n/a" if np.isnan(c) else f"{100 * c:.1f}" + ("" if np.isnan(s) else f" ± {100 * s:.1f}"))
            for c, s in zip(table[name], table[f"{name}_se"])
        ]
    out["R²"] = ["n/a" if np.isnan(r) else f"{r:.2f}" for r in table["r2"]]
    out["status"] = table["status"]
    return out


def plot(table: pd.DataFrame, points: pd.DataFrame, png_path) -> None:
    """Predicted vs observed accuracy, one panel per (model, dataset, fit)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fits = table[table["b0"].notna()]
    fig, axes = plt.subplots(1, max(1, len(fits)), figsize=(4.5 * max(1, len(fits)), 4.2), squeeze=False)
    for ax, (_, row) in zip(axes[0], fits.iterrows()):
        pts = points[
            (points["model"] == row["model"]) & (points["dataset"] == row["dataset"]) & (points["fit"] == row["fit"])
        ]
        predicted = predict(row, pts) * 100
        for training_set, sub in pts.assign(pred=predicted).groupby("training_set", sort=True):
            ax.scatter(sub["pred"], sub["acc"] * 100, s=18, label=training_set)
        lo = float(min(predicted.min(), pts["acc"].min() * 100)) - 2
        hi = float(max(predicted.max(), pts["acc"].max() * 100)) + 2
        ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("predicted exact match (%)")
        ax.set_ylabel("observed exact match (%)")
        ax.set_title(
            f"{row['model']} / {row['dataset']}\n{row['fit']}: "
            f"b_kn={100 * row['b_kn']:.1f}, b_unk={100 * row['b_unk']:.1f}, R²={row['r2']:.2f}",
            fontsize=8,
        )
        ax.legend(fontsize=6)
    finish_figure(fig, TITLE, png_path, tight=True)


def _coef(row, name: str) -> str:
    value, se = row[name], row[f"{name}_se"]
    if pd.isna(value):
        return "n/a"
    return f"{100 * value:.1f}" + ("" if pd.isna(se) else f" ± {100 * se:.1f}")


def _describe_fit(row) -> str:
    head = f"{row['model']}/{row['dataset']}, fit '{row['fit']}' ({row['n']} points)"
    if pd.isna(row["b0"]):
        return f"{head}: no fit ({row['status']})."
    r2 = "n/a" if pd.isna(row["r2"]) else f"{row['r2']:.2f}"
    return (
        f"{head}: b0 = {_coef(row, 'b0')}, b_kn = {_coef(row, 'b_kn')}, b_unk = {_coef(row, 'b_unk')} points "
        f"(± standard error), R² = {r2}."
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: the fitted coefficients (points of exact match) and R² of each fit."""
    if table.empty:
        return "No linear fit."
    text = " ".join(_describe_fit(row) for _, row in table.iloc[:MAX_FITS].iterrows())
    return text + (" ..." if len(table) > MAX_FITS else "")


def build(inputs: ReportInputs, known, unknown) -> Report:
    """The S1 linear-model figure."""
    counts = fitted_counts(inputs.frame("histories"), known, unknown)
    summary = inputs.frame("summaries")
    predictions = inputs.frame("predictions", empty_columns=["model", "dataset", "variant", "prompt_mode", "correct"])
    points = pd.concat([dev_points(counts), test_points(counts, summary, predictions)], ignore_index=True)
    table = build_table(points)
    if table.empty or table["b0"].isna().all():
        reasons = "; ".join(f"{r.model}/{r.dataset}/{r.fit}: {r.status}" for r in table.itertuples()) or "no points"
        raise ValueError(f"no linear fit possible ({reasons})")
    paper = ", ".join(f"{k} = {v}" for k, v in PAPER_FIT.items())
    notes = (
        "Coefficients in points of exact match (fit on fractions, x100) ± standard error. Predictors: the fraction "
        f"of the training set that is Known ({list(known)}) / Unknown ({list(unknown)}) AND fitted (train exact "
        "match) at that point. 'dev, every epoch': one point per training set and epoch; 'test, early stop and "
        "convergence': one point per training set and stage (0-shot in-distribution test exact match). "
        f"'I don't know' relabelled sets are left out. Gekhman et al. 2024 report for their ID fit: {paper}."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table, points), finding=describe(table))
