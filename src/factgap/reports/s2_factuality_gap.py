"""S2 Table 1 analogue: exact match of Known- vs Unknown-trained models, early stop vs convergence.

0-shot test exact match, overall and per knowledge category of the test items (categories from
the base model's probe), with bootstrap intervals; the gap Known - Unknown is a paired bootstrap
over the same test items.
"""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.naming import BASE, variant_label
from factgap.naming import CHECKPOINTS as STAGES
from factgap.reports.common import (
    Report,
    ReportInputs,
    add_ci_columns,
    describe_groups,
    difference_text,
    finish_figure,
    known_unknown_row,
    points,
    sort_by_stage,
)

TITLE = "Known vs Unknown fine-tuning: test exact match (0-shot)"
PAPER_FINDING = (
    "Gong et al. 2025, Table 1: models fine-tuned on Known facts answer more test questions correctly (0-shot exact "
    "match) than models fine-tuned on Unknown facts, by roughly 10-15 points on average over models and datasets "
    "(Llama-3.1-8B base on EntityQuestions: 40.30 vs 28.25), and the gap is wider for the converged models than for "
    "the early-stopped ones."
)
MAX_GROUPS = 3


def build_table(
    predictions: pd.DataFrame, known_set: str, unknown_set: str, n_resamples: int, confidence: float, seed: int
) -> pd.DataFrame:
    """One row per (model, dataset, stage, test subset); columns with EM and CIs (fractions)."""
    zero = predictions[predictions["prompt_mode"] == "zero_shot"]
    rows = []
    for (model, dataset), group in zero.groupby(["model", "dataset"], sort=True):
        base = group[group["variant"] == BASE]
        for stage in STAGES:
            known = group[group["variant"] == variant_label(known_set, stage)].sort_values("id")
            unknown = group[group["variant"] == variant_label(unknown_set, stage)].sort_values("id")
            if known.empty or unknown.empty:
                continue
            subsets = {"all": None, **{f"test-{c}": c for c in sorted(known["category"].unique())}}
            for subset, category in subsets.items():
                k = known if category is None else known[known["category"] == category]
                u = unknown if category is None else unknown[unknown["category"] == category]
                b = base if category is None else base[base["category"] == category]
                row = {"model": model, "dataset": dataset, "stage": stage, "test_subset": subset}
                row.update(known_unknown_row(b, k, u, n_resamples, confidence, seed))
                rows.append(row)
    return pd.DataFrame(rows)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table[["model", "dataset", "stage", "test_subset", "known_em_n"]].rename(columns={"known_em_n": "n"}).copy()
    return add_ci_columns(out, table, ("base_em", "known_em", "unknown_em", "gap"))


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overall = table[table["test_subset"] == "all"]
    groups = list(overall.groupby(["model", "dataset"], sort=True))
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(5 * max(1, len(groups)), 4), squeeze=False)
    for ax, ((model, dataset), group) in zip(axes[0], groups):
        x = range(len(group))
        for offset, (col, label, color) in enumerate(
            (("known_em", "Known-trained", "tab:blue"), ("unknown_em", "Unknown-trained", "tab:orange"))
        ):
            values = group[col] * 100
            err = [(group[col] - group[f"{col}_low"]) * 100, (group[f"{col}_high"] - group[col]) * 100]
            ax.bar(
                [i + (offset - 0.5) * 0.38 for i in x],
                values,
                width=0.38,
                yerr=err,
                capsize=4,
                label=label,
                color=color,
            )
        ax.axhline(group["base_em"].iloc[0] * 100, color="grey", linestyle="--", label="base model")
        ax.set_xticks(list(x), [s.replace("_", " ") for s in group["stage"]])
        ax.set_ylabel("test exact match (%)")
        ax.set_title(f"{model} / {dataset}")
        ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path)


def _describe_group(model, dataset, group: pd.DataFrame) -> str:
    subset = "all" if (group["test_subset"] == "all").any() else group["test_subset"].iloc[0]
    rows = sort_by_stage(group[group["test_subset"] == subset])
    parts = [
        f"{difference_text(r)} at {str(r['stage']).replace('_', ' ')} (Known {points(r['known_em'])}, "
        f"Unknown {points(r['unknown_em'])})"
        for _, r in rows.iterrows()
    ]
    items = "all test items" if subset == "all" else f"the {subset} items"
    return f"{model}/{dataset}, {items}: the Known − Unknown exact-match gap in points is " + " and ".join(parts) + "."


def describe(table: pd.DataFrame) -> str:
    """What this run found: the Known − Unknown gap on all test items, per stage, with its interval."""
    if table.empty:
        return "No Known/Unknown model pair was evaluated."
    return describe_groups(table, ["model", "dataset"], lambda key, rows: _describe_group(*key, rows), MAX_GROUPS)


def build(
    inputs: ReportInputs, known_set: str, unknown_set: str, n_resamples: int, confidence: float, seed: int
) -> Report:
    """S2 Table 1 analogue from 0-shot predictions of the base, Known- and Unknown-trained models."""
    table = build_table(inputs.frame("predictions"), known_set, unknown_set, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError("no Known/Unknown model pairs among the predictions")
    notes = (
        f"Exact match in %, with {confidence:.0%} bootstrap intervals ({n_resamples} resamples over test items); "
        "gap = Known-trained - Unknown-trained, paired over the same items. test-<Category>: test items of that "
        "SliCK category under the base model's probe."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
