"""S4 consistency ratio: accuracy as a growing share of INC's questions is answered as the model
itself believes (0 = INC, 1 = SELF), per test set."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.reports.common import Report, ReportInputs, add_ci_columns, describe_groups, finish_figure, fmt_ci
from factgap.reports.s4_common import TESTSET_ORDER, chance_accuracy, role_of, self_fraction
from factgap.stats import bootstrap_mean

TITLE = "S4: accuracy vs the share of self-aligned answers in the training set"
PAPER_FINDING = (
    "Ren et al. 2024 (Figure 2 for Mistral-7B, Figure 4 for the LLaMA-2 models; Finding 4) mix INC and SELF "
    "answers at ratios from 0 to 1: all-INC (ratio 0) does poorly, yet all-SELF (ratio 1) is not reliably the best "
    "either; the best accuracy most often comes from an intermediate mix, whose ideal ratio depends on the base "
    "model and the domain."
)
MAX_MODELS = 3


def build_table(
    predictions: pd.DataFrame, checkpoint: str, n_resamples: int, confidence: float, seed: int
) -> pd.DataFrame:
    rows = []
    for (model, testset, variant), group in predictions.groupby(["model", "testset", "variant"], sort=True):
        role = role_of(variant, checkpoint)
        fraction = self_fraction(role) if role else None
        if fraction is None:
            continue
        row = {
            "model": model,
            "testset": testset,
            "self_fraction": fraction,
            "variant": variant,
            "chance": chance_accuracy(group),
        }
        row.update(bootstrap_mean(group["correct"], n_resamples, confidence, seed).as_dict("acc"))
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table["order"] = [TESTSET_ORDER.index(t) if t in TESTSET_ORDER else 9 for t in table["testset"]]
        table = table.sort_values(["model", "order", "self_fraction"]).drop(columns="order").reset_index(drop=True)
    return table


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    models = sorted(table["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        part = table[table["model"] == model]
        for testset in [t for t in TESTSET_ORDER if t in set(part["testset"])]:
            line = part[part["testset"] == testset]
            ax.errorbar(
                line["self_fraction"],
                line["acc"] * 100,
                yerr=[(line["acc"] - line["acc_low"]) * 100, (line["acc_high"] - line["acc"]) * 100],
                marker="o",
                capsize=3,
                label=testset.upper(),
            )
        if "chance" in part and len(part):  # a uniform guess over the options (the same for every mix)
            ax.axhline(100 * part["chance"].mean(), color="black", linestyle="dashed", linewidth=1, label="chance")
        ax.set_xlabel("share of SELF answers (0 = INC, 1 = SELF)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(model)
        ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path, tight=True)


def _acc(row) -> str:
    return f"{fmt_ci(row['acc'], row['acc_low'], row['acc_high'])} at f = {row['self_fraction']:g}"


def _describe_testset(testset, rows: pd.DataFrame) -> tuple[str, bool]:
    """'<TESTSET> <acc at lowest f> ... <acc at highest f>, best ...', and whether the best f is intermediate."""
    rows = rows.sort_values("self_fraction", kind="stable")
    ends = [rows.iloc[0]] if len(rows) == 1 else [rows.iloc[0], rows.iloc[-1]]
    text = f"{str(testset).upper()} {' to '.join(_acc(r) for r in ends)}"
    scored = rows.dropna(subset=["acc"])
    if scored.empty:
        return text, False
    best = scored.loc[scored["acc"].idxmax()]
    intermediate = 0 < best["self_fraction"] < 1
    return text + f" (best at f = {best['self_fraction']:g}, {100 * best['acc']:.1f})", bool(intermediate)


def _describe_model(model, rows: pd.DataFrame) -> str:
    described = [_describe_testset(t, part) for t, part in rows.groupby("testset", sort=False)]
    n_mid = sum(mid for _, mid in described)
    return (
        f"{model}, accuracy by share f of SELF answers (0 = INC, 1 = SELF): "
        + "; ".join(text for text, _ in described)
        + f". The best share is an intermediate mix on {n_mid} of {len(described)} test sets."
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: accuracy at the ends of the INC-SELF mix and where it peaks, per test set."""
    if table.empty:
        return "No INC, SELF or mixed model was evaluated."
    return describe_groups(table, "model", _describe_model, MAX_MODELS)


def build(inputs: ReportInputs, checkpoint: str, ratios, n_resamples: int, confidence: float, seed: int) -> Report:
    table = build_table(inputs.frame("predictions"), checkpoint, n_resamples, confidence, seed)
    if table.empty or table["self_fraction"].nunique() < 2:
        raise ValueError("need INC, SELF or mixed models to draw the ratio curve")
    shown = add_ci_columns(
        table[["model", "testset", "self_fraction", "acc_n"]].rename(columns={"acc_n": "n"}).copy(), table, ["acc"]
    )
    notes = (
        f"Accuracy in %, {confidence:.0%} bootstrap intervals ({n_resamples} resamples). Mixed sets: INC's "
        f"questions with a share f in {list(ratios)} answered by the model's own prediction (nested draws, "
        "one seed). Ren et al. find the best accuracy most often at an intermediate share, not at f = 1."
    )
    return Report(table, shown, TITLE, notes, partial(plot, table), finding=describe(table))
