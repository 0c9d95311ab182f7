"""S3: which of the facts the model states does it know? Shares of known / potentially known /
unknown facts (r over S sampled answers) among the supported and the unsupported facts."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.factscore.knowledge import KNOWN, POTENTIALLY_KNOWN, UNKNOWN
from factgap.reports.common import Report, ReportInputs, describe_groups, finish_figure, percent

TITLE = "S3: the model's knowledge of the facts it states, by verdict"
CATEGORIES = (KNOWN, POTENTIALLY_KNOWN, UNKNOWN)
PAPER_FINDING = (
    "Yuan et al. 2024 report no such breakdown by verdict. Their knowledge detection (Section 5.1) asks each "
    "atomic fact back several times with sampling and calls it unknown (r = 0), potentially known (0 < r < 1) or "
    "known (r = 1); atomic preference pairs are built from the potentially known facts, on the view that the "
    "model can still be corrected where its knowledge is partial."
)
MAX_MODELS = 3


def build_table(facts: pd.DataFrame, knowledge: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    joined = (
        facts[["model", "fact_id"]]
        .merge(knowledge[["model", "fact_id", "category", "r"]], on=["model", "fact_id"], how="left")
        .merge(verdicts[["model", "fact_id", "supported"]], on=["model", "fact_id"], how="inner")
    )
    rows = []
    for (model, supported), group in joined.groupby(["model", "supported"], sort=True):
        asked = group[group["category"].notna()]
        row = {
            "model": model,
            "verdict": "supported" if supported else "not supported",
            "facts": len(group),
            "asked": len(asked),
            "mean_r": float(asked["r"].mean()) if len(asked) else float("nan"),
        }
        for category in CATEGORIES:
            row[category] = float((asked["category"] == category).mean()) if len(asked) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["model", "verdict"], ascending=[True, False]).reset_index(drop=True)


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [f"{m}\n{v} (n={n})" for m, v, n in zip(table["model"], table["verdict"], table["asked"])]
    bottom = [0.0] * len(table)
    for category in CATEGORIES:
        values = [100 * v for v in table[category]]
        ax.bar(labels, values, bottom=bottom, label=category.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("share of facts (%)")
    ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path, tight=True)


def _describe_verdict(row) -> str:
    mean_r = "n/a" if pd.isna(row["mean_r"]) else f"{row['mean_r']:.2f}"
    return (
        f"of {row['asked']} {row['verdict']} facts asked back ({row['facts']} stated), {percent(row[KNOWN])} are "
        f"known, {percent(row[POTENTIALLY_KNOWN])} potentially known and {percent(row[UNKNOWN])} unknown (mean r "
        f"{mean_r})"
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: per model and verdict, the shares of known / potentially known / unknown facts."""
    if table.empty:
        return "No verified fact."
    return describe_groups(
        table,
        "model",
        lambda model, rows: f"{model}: " + "; ".join(_describe_verdict(row) for _, row in rows.iterrows()) + ".",
        MAX_MODELS,
    )


def build(inputs: ReportInputs) -> Report:
    table = build_table(inputs.frame("facts"), inputs.frame("knowledge"), inputs.frame("verdicts"))
    if table.empty:
        raise ValueError("no verified facts")
    shown = table.assign(
        **{c: [f"{100 * v:.1f}" for v in table[c]] for c in CATEGORIES}, mean_r=[f"{v:.2f}" for v in table["mean_r"]]
    )
    notes = (
        "Each fact the model stated in a test bio is asked back as a question (a template per slot, else a cloze); "
        "r = share of S sampled answers that match it: known r = 1, potentially known 0 < r < 1, unknown r = 0 "
        "(in % of the facts that could be asked). Verdicts from the primary verifier."
    )
    return Report(table, shown, TITLE, notes, partial(plot, table), finding=describe(table))
