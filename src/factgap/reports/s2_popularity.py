"""Exact match and the Known/Unknown gap by popularity of the test fact (none of the papers reports this).

Test items with a popularity (in-distribution test set, 0-shot) are split into equal-count
buckets of popularity per (model, dataset); in each bucket: exact match of the base, Known- and
Unknown-trained models and the paired gap Known - Unknown, with bootstrap intervals.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from factgap.naming import BASE, variant_label
from factgap.naming import CHECKPOINTS as STAGES
from factgap.reports.common import (
    Report,
    ReportInputs,
    add_ci_columns,
    difference_text,
    finish_figure,
    known_unknown_row,
    points,
)

TITLE = "Exact match and Known/Unknown gap by popularity bucket of the test item (0-shot)"
PAPER_FINDING = (
    "None of the papers breaks its results down by the popularity of the test fact. The nearest claim is Gong et "
    "al.'s 2025 knowledge-graph account (Theorem 4.1): Known facts link well-connected entities, so what is learnt "
    "from them spreads to similar ones, while Unknown facts add isolated links between sparsely connected entities; "
    "the paper does not test whether the gap therefore varies with how popular the test entity is."
)
MAX_GROUPS = 3


def popularity_buckets(values, n: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Equal-count quantile buckets: labels 0..k-1 (0 = least popular) and (low, high) per bucket.

    k = min(n, number of values). Items are ranked by value (ties broken by position, stably), so
    bucket sizes differ by at most one even when values tie; a tie may straddle two buckets, whose
    bounds then touch.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("no popularity values to bucket")
    if np.isnan(x).any():
        raise ValueError("popularity values hold NaN: drop items without a popularity first")
    if n < 1:
        raise ValueError(f"the number of buckets must be positive, got {n}")
    k = min(n, x.size)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size, dtype=int)
    ranks[order] = np.arange(x.size)
    labels = ranks * k // x.size
    bounds = [(float(x[labels == b].min()), float(x[labels == b].max())) for b in range(k)]
    return labels, bounds


def build_table(
    predictions: pd.DataFrame,
    n_buckets: int,
    n_resamples: int,
    confidence: float,
    seed: int,
    known_set: str = "known",
    unknown_set: str = "unknown",
) -> pd.DataFrame:
    """One row per (model, dataset, stage, bucket) with EM of base / Known / Unknown and the gap."""
    test = predictions[(predictions["prompt_mode"] == "zero_shot") & predictions["popularity"].notna()]
    if "testset" in test:
        test = test[test["testset"] == "test"]
    rows = []
    for (model, dataset), group in test.groupby(["model", "dataset"], sort=True):
        items = group.drop_duplicates("id").sort_values("id")
        labels, bounds = popularity_buckets(items["popularity"].to_numpy(), n_buckets)
        bucket_of = dict(zip(items["id"], labels))
        group = group.assign(bucket=group["id"].map(bucket_of))
        for stage in STAGES:
            known = group[group["variant"] == variant_label(known_set, stage)].sort_values("id")
            unknown = group[group["variant"] == variant_label(unknown_set, stage)].sort_values("id")
            if known.empty or unknown.empty:
                continue
            if list(known["id"]) != list(unknown["id"]):
                raise ValueError(
                    f"{model}/{dataset}: {known_set}-{stage} and {unknown_set}-{stage} cover different test items"
                )
            base = group[group["variant"] == BASE]
            for b, (low, high) in enumerate(bounds):
                k, u, bs = known[known["bucket"] == b], unknown[unknown["bucket"] == b], base[base["bucket"] == b]
                row = {
                    "model": model,
                    "dataset": dataset,
                    "stage": stage,
                    "bucket": b + 1,
                    "popularity_low": low,
                    "popularity_high": high,
                }
                row.update(known_unknown_row(bs, k, u, n_resamples, confidence, seed))
                rows.append(row)
    return pd.DataFrame(rows)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table[["model", "dataset", "stage", "bucket"]].copy()
    out["popularity"] = [f"{lo:.4g} – {hi:.4g}" for lo, hi in zip(table["popularity_low"], table["popularity_high"])]
    out["n"] = table["known_em_n"]
    return add_ci_columns(out, table, ("base_em", "known_em", "unknown_em", "gap"))


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(table.groupby(["model", "dataset"], sort=True))
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(6 * max(1, len(groups)), 4.2), squeeze=False)
    series = (("known_em", "Known-trained", "tab:blue"), ("unknown_em", "Unknown-trained", "tab:orange"))
    for ax, ((model, dataset), group) in zip(axes[0], groups):
        for stage, line in zip(STAGES, ("-", "--")):
            part = group[group["stage"] == stage].sort_values("bucket")
            if part.empty:
                continue
            for col, label, color in series:
                ax.errorbar(
                    part["bucket"],
                    part[col] * 100,
                    yerr=[(part[col] - part[f"{col}_low"]) * 100, (part[f"{col}_high"] - part[col]) * 100],
                    linestyle=line,
                    marker="o",
                    markersize=3,
                    capsize=3,
                    color=color,
                    label=f"{label} ({stage.replace('_', ' ')})",
                )
        first = group[group["stage"] == group["stage"].iloc[0]].sort_values("bucket")
        if first["base_em_n"].sum() > 0:
            ax.plot(
                first["bucket"], first["base_em"] * 100, ":", marker="s", markersize=3, color="grey", label="base model"
            )
        ax.set_xticks(
            list(first["bucket"]),
            [
                f"{b}\n{lo:.3g}–{hi:.3g}"
                for b, lo, hi in zip(first["bucket"], first["popularity_low"], first["popularity_high"])
            ],
            fontsize=7,
        )
        ax.set_xlabel("popularity bucket (1 = least popular)")
        ax.set_ylabel("test exact match (%)")
        ax.set_title(f"{model} / {dataset}", fontsize=9)
        ax.legend(fontsize=7)
    finish_figure(fig, TITLE, png_path, tight=True)


def _describe_stage(stage, rows: pd.DataFrame) -> str:
    """Gap and Known-trained EM in the least and the most popular bucket of one stage."""
    rows = rows.sort_values("bucket")
    low, high = rows.iloc[0], rows.iloc[-1]
    label = str(stage).replace("_", " ")
    if len(rows) == 1:
        return f"at {label} {difference_text(low)} (a single bucket)"
    return (
        f"at {label} {difference_text(low)} in the least popular bucket ({low['bucket']}) and {difference_text(high)} in "
        f"the most popular ({high['bucket']}), the Known-trained model scoring {points(low['known_em'])} and "
        f"{points(high['known_em'])} there"
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: the Known − Unknown gap in the least and most popular buckets, per stage."""
    if table.empty:
        return "No Known/Unknown model pair was evaluated on items with a popularity."
    rank = {s: i for i, s in enumerate(STAGES)}
    groups = list(table.groupby(["model", "dataset"], sort=False, dropna=False))
    sentences = []
    for (model, dataset), group in groups[:MAX_GROUPS]:
        stages = sorted(group["stage"].unique(), key=lambda s: rank.get(s, len(rank)))
        parts = [_describe_stage(s, group[group["stage"] == s]) for s in stages]
        sentences.append(f"{model}/{dataset}, Known − Unknown exact-match gap in points: " + "; ".join(parts) + ".")
    return " ".join(sentences) + (" ..." if len(groups) > MAX_GROUPS else "")


def build(inputs: ReportInputs, n_buckets: int, n_resamples: int, confidence: float, seed: int) -> Report:
    """The popularity-bucket figure."""
    predictions = inputs.frame("predictions")
    if predictions["popularity"].notna().sum() == 0:
        raise ValueError("no test item carries a popularity (the dataset has no popularity field)")
    table = build_table(predictions, n_buckets, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError(
            "no Known/Unknown model pairs among the 0-shot in-distribution test predictions with a popularity"
        )
    notes = (
        f"Exact match in %, with {confidence:.0%} bootstrap intervals ({n_resamples} resamples over test items); "
        f"gap = Known-trained - Unknown-trained, paired over the same items. Test items with a popularity are "
        f"split into {n_buckets} equal-count buckets per model and dataset (1 = least popular); items without "
        "a popularity are left out."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
