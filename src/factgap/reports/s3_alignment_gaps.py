"""S3: does tuning on general (bio-level) preferences lower the out-of-domain tests (under-alignment),
and do atomic preferences recover it? Per method and test: general - base, general+atomic - general,
and general+atomic - base, each a paired bootstrap over the same items."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.naming import parse_variant_label
from factgap.reports.common import Report, ReportInputs, add_ci_columns, describe_difference, finish_figure
from factgap.reports.s3_common import BASE, item_values, metric_order, paired_values, qa_set_note
from factgap.stats import bootstrap_paired_difference

TITLE = "S3: the gap general preference tuning opens, and what atomic pairs change"
GENERAL, MIXED = "general", "general+atomic"
PAPER_FINDING = (
    "Yuan et al. 2024 find that tuning on paragraph-level (general) factuality preferences can lower the "
    "out-of-domain scores, by up to 8.47% (Section 3.4, Figure 2), which they trace to under-alignment; mixing "
    "atomic, single-fact preferences into the general ones helps almost every learning algorithm and lifts the "
    "average over Bio, FAVA, FPQA and KUQA by 3.45% (Table 2, Section 5.2)."
)
IN_DOMAIN = "factscore_bios"
# The first two present are described: the gap general tuning opens and what atomic pairs change.
COMPARISONS = ("general - base", "general+atomic - general", "general+atomic - base")
MAX_MODELS = 3


def build_table(values: pd.DataFrame, n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    rows = []
    for model, group in values.groupby("model", sort=True):
        by_method: dict[str, dict[str, str]] = {}
        for variant in set(group["variant"]) - {BASE}:
            v = parse_variant_label(variant)
            by_method.setdefault(v.method, {})[v.training_set] = variant
        for method in sorted(by_method):
            sets = by_method[method]
            comparisons = [
                ("general - base", sets.get(GENERAL), BASE),
                ("general+atomic - general", sets.get(MIXED), sets.get(GENERAL)),
                ("general+atomic - base", sets.get(MIXED), BASE),
            ]
            for metric in metric_order(group["metric"].unique()):
                for name, a, b in comparisons:
                    if a is None or b is None:
                        continue
                    x, y = paired_values(group, model, metric, a, b)
                    rows.append(
                        {
                            "model": model,
                            "method": method,
                            "metric": metric,
                            "comparison": name,
                            **bootstrap_paired_difference(x, y, n_resamples, confidence, seed).as_dict("diff"),
                        }
                    )
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    metrics = [m for m in metric_order(table["metric"].unique()) if ":" not in m]
    methods = sorted(table["method"].unique())
    comparisons = ["general - base", "general+atomic - base"]
    models = sorted(table["model"].unique())  # one row of panels per model (a paper config has two)
    fig, axes = plt.subplots(
        len(models), len(metrics), figsize=(3.2 * len(metrics), 3.2 * len(models)), sharey=False, squeeze=False
    )
    for row_axes, model in zip(axes, models):
        for ax, metric in zip(row_axes, metrics):
            for k, comparison in enumerate(comparisons):
                rows = table[
                    (table["metric"] == metric) & (table["comparison"] == comparison) & (table["model"] == model)
                ]
                rows = rows.set_index("method").reindex(methods)
                x = [i + (k - 0.5) * 0.38 for i in range(len(methods))]
                ax.bar(x, 100 * rows["diff"], width=0.38, color=f"C{k}", label=comparison)
                ax.errorbar(
                    x,
                    100 * rows["diff"],
                    yerr=[100 * (rows["diff"] - rows["diff_low"]), 100 * (rows["diff_high"] - rows["diff"])],
                    fmt="none",
                    color="k",
                    capsize=2,
                )
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_xticks(range(len(methods)), methods, fontsize=8)
            ax.set_title(f"{model}: {metric}" if len(models) > 1 else metric, fontsize=9)
    for row_axes in axes:
        row_axes[0].set_ylabel("change (points)")
    axes[0][0].legend(fontsize=7)
    finish_figure(fig, TITLE, png_path, tight=True)


def _describe_comparison(comparison: str, rows: pd.DataFrame) -> str:
    """In domain: the lowest and highest difference over methods; out of domain: drops excluding 0."""
    rows = rows.dropna(subset=["diff"])
    bios = rows[rows["metric"] == IN_DOMAIN].sort_values("diff", kind="stable")
    if bios.empty:
        in_domain = "n/a in domain"
    elif len(bios) == 1:
        in_domain = f"{describe_difference(bios.iloc[0], 'diff', bios['method'].iloc[0])} in domain"
    else:
        low, high = bios.iloc[0], bios.iloc[-1]
        in_domain = f"between {describe_difference(low, 'diff', low['method'])} and {describe_difference(high, 'diff', high['method'])} in domain"
    # Per-category QA rows are subsets of qa_em: counting them too would count the same drop twice.
    ood = rows[(rows["metric"] != IN_DOMAIN) & ~rows["metric"].str.contains(":")]
    if ood.empty:
        return f"{comparison}: {in_domain}, none measured out of domain."
    lowest = ood.sort_values("diff", kind="stable").iloc[0]
    lowest_text = describe_difference(lowest, "diff", f"{lowest['method']} on {lowest['metric']}")
    drops = int((ood["diff_high"] < 0).sum())
    if drops:
        out = f"{drops} of {len(ood)} differences are drops whose interval excludes 0, the largest {lowest_text}"
    elif lowest["diff"] < 0:
        out = f"none of {len(ood)} differences is a drop whose interval excludes 0; the lowest is {lowest_text}"
    else:
        out = f"none of {len(ood)} differences is below 0"
    return f"{comparison}: {in_domain}; out of domain {out}."


def describe(table: pd.DataFrame) -> str:
    """What this run found: per model, how general tuning moves each test vs the base model, and what adding
    atomic pairs changes, in domain (range over methods) and out of domain (drops whose interval excludes 0)."""
    if table.empty:
        return "No method was compared."
    models = list(table.groupby("model", sort=False))
    sentences = []
    for model, rows in models[:MAX_MODELS]:
        present = [c for c in COMPARISONS if (rows["comparison"] == c).any()][:2]
        parts = [f"{model}, {_describe_comparison(c, rows[rows['comparison'] == c])}" for c in present]
        sentences += parts or [f"{model}: no comparison was made."]
    return " ".join(sentences) + (" ..." if len(models) > MAX_MODELS else "")


def build(inputs: ReportInputs, verifier: str, n_resamples: int, confidence: float, seed: int) -> Report:
    table = build_table(item_values(inputs, verifier), n_resamples, confidence, seed)
    if table.empty:
        raise ValueError("no method was tuned on the general pair set and compared")
    shown = add_ci_columns(table[["model", "method", "metric", "comparison"]].copy(), table, ["diff"])
    shown["n"] = table["diff_n"]
    notes = (
        "Differences in points (x100) on the same items with 95% paired bootstrap CIs. Under-alignment: "
        "'general - base' below zero on an out-of-domain test (topics, qa_em, mmlu_accuracy) while in "
        "domain (factscore_bios) it is not; recovery: 'general+atomic - general' above zero there. An "
        "interval that spans 0 shows no effect at this sample size." + qa_set_note(table["metric"])
    )
    return Report(table, shown, TITLE, notes, partial(plot, table), finding=describe(table))
