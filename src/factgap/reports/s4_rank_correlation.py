"""S4 analysis: does the tuned model keep the base model's order of the options, and does keeping
it go with accuracy? Per item, Pearson r of the dense option ranks of the base model (k-shot
probe) and the tuned model (0-shot), averaged per test set; then, over all tuned models of a base
model and test set, the partial Spearman correlation of tuned accuracy with that mean r,
controlling for the base model's accuracy (rank all, regress on the control, correlate residuals)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from factgap.naming import BASE
from factgap.reports.common import Report, ReportInputs, describe_groups, finish_figure
from factgap.reports.s4_common import TESTSET_ORDER, aligned_with_base
from factgap.s4.analysis import partial_spearman, rank_pearson

TITLE = "S4: base/tuned option-rank correlation and tuned accuracy"
PAPER = "Ren et al., all models: partial r (HOMO/ID/OOD) .43 / .57 / .48"
PAPER_FINDING = (
    "Ren et al. 2024, Table 3 (Finding 5): over 96 tuned models, tuned accuracy correlates with how closely the "
    "tuned model keeps the base model's option ranking, controlling for base accuracy: partial Spearman r = 0.43 / "
    "0.57 / 0.48 on HOMO / ID / OOD (p near 0). Per base model it is strong for Mistral-7B (0.78 to 0.82) and "
    "LLaMA-2-13B (0.56 to 0.87) but weak and not significant for LLaMA-2-7B (0.19 to 0.27)."
)
MAX_MODELS = 3


def per_variant(joined: pd.DataFrame) -> pd.DataFrame:
    joined = joined.assign(rank_r=[rank_pearson(b, t) for b, t in zip(joined["probs_base"], joined["probs"])])
    return (
        joined.groupby(["model", "testset", "variant"], sort=True)
        .agg(
            n=("id", "size"),
            mean_rank_r=("rank_r", "mean"),
            tuned_acc=("correct", "mean"),
            base_acc=("correct_base", "mean"),
        )
        .reset_index()
    )


def partial_rows(points: pd.DataFrame) -> pd.DataFrame:
    """One partial correlation per (model, test set) over its tuned variants; the pooled one per test set
    (every variant is a point; the control takes out the base accuracy of each test set's items)."""
    rows = []
    tuned = points[points["variant"] != BASE]
    for key, group in [*tuned.groupby(["model", "testset"], sort=True), *tuned.groupby(["testset"], sort=True)]:
        model, testset = key if len(key) == 2 else ("all", key[0])
        row = {"model": model, "testset": testset, "n_models": len(group)}
        if len(group) >= 4 and group["tuned_acc"].nunique() > 1 and group["mean_rank_r"].nunique() > 1:
            result = partial_spearman(group["mean_rank_r"], group["tuned_acc"], group["base_acc"])
            row.update(partial_r=result.r, p=result.p)
        else:
            row.update(partial_r=np.nan, p=np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def plot(points: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    tuned = points[points["variant"] != BASE]
    testsets = [t for t in TESTSET_ORDER if t in set(tuned["testset"])]
    fig, axes = plt.subplots(1, max(1, len(testsets)), figsize=(4.5 * max(1, len(testsets)), 4), squeeze=False)
    models = sorted(tuned["model"].unique()) if "model" in tuned else [None]
    for ax, testset in zip(axes[0], testsets):
        part = tuned[tuned["testset"] == testset]
        for model in models:  # one colour per model, named in the legend
            mine = part if model is None else part[part["model"] == model]
            ax.scatter(mine["mean_rank_r"], mine["tuned_acc"] * 100, label=model)
            for r in mine.itertuples():
                ax.annotate(
                    r.variant.split("-convergence")[0].split("-early_stop")[0],
                    (r.mean_rank_r, r.tuned_acc * 100),
                    fontsize=6,
                )
        if models != [None]:
            ax.legend(title="model", fontsize=7)
        ax.set_xlabel("mean rank r (base k-shot vs tuned 0-shot)")
        ax.set_ylabel("tuned accuracy (%)")
        ax.set_title(testset.upper())
    finish_figure(fig, TITLE, png_path, tight=True)


def _partial_text(testset, rows: pd.DataFrame) -> str:
    """'<TESTSET> r (p)' of the tuned variants' partial correlation, with the range of their mean rank r."""
    first = rows.iloc[0]
    tuned = rows.loc[rows["variant"] != BASE, "mean_rank_r"]
    if pd.isna(first["partial_r"]):
        text = f"{str(testset).upper()} n/a (undefined over {len(tuned)} tuned models)"
    else:
        text = f"{str(testset).upper()} {first['partial_r']:.2f} (p {first['p']:.2g})"
    tuned = tuned.dropna()
    return text + (f", mean rank r {tuned.min():.2f} to {tuned.max():.2f}" if len(tuned) else "")


def _describe_model(model, rows: pd.DataFrame) -> str:
    if "partial_r" not in rows:
        return f"{model}: no tuned variant to correlate."
    n_models = rows.loc[rows["variant"] != BASE, "variant"].nunique()
    parts = [_partial_text(t, part) for t, part in rows.groupby("testset", sort=False)]
    return (
        f"{model}, partial Spearman r of tuned accuracy with the mean base/tuned rank r over {n_models} tuned "
        "variants, controlling for base accuracy: " + "; ".join(parts) + "."
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: per test set the partial correlation of tuned accuracy with the base/tuned rank
    correlation, and how far that rank correlation spreads over the tuned variants."""
    if table.empty:
        return "No tuned predictions to correlate."
    return describe_groups(table, "model", _describe_model, MAX_MODELS)


def build(inputs: ReportInputs, seed: int) -> Report:
    points = per_variant(aligned_with_base(inputs.frame("predictions"), inputs.frame("probes")))
    if points.empty:
        raise ValueError("no tuned predictions to correlate")
    partials = partial_rows(points)
    table = points.merge(partials, on=["model", "testset"], how="left")
    shown = partials.assign(
        partial_r=[f"{v:.2f}" if pd.notna(v) else "n/a (< 4 models)" for v in partials["partial_r"]],
        p=[f"{v:.3g}" if pd.notna(v) else "" for v in partials["p"]],
    )
    notes = (
        f"Mean rank r: per item Pearson r of dense option ranks (NaN -> 0), averaged over the test set. Partial "
        "Spearman of tuned accuracy and mean rank r controlling for base accuracy over the tuned models of a "
        "base model ('all': every tuned variant pooled); with fewer than 4 tuned models it is not defined. "
        f"The per-variant points are in the CSV. {PAPER}."
    )
    return Report(table, shown, TITLE, notes, partial(plot, points), finding=describe(table))
