"""S3 main table analogue: the base model and every preference-tuned variant (method x pair set) on the
in-domain test (FActScore of the test people's bios) and each out-of-domain test (FActScore on topics,
QA exact match overall and per SliCK category, MMLU accuracy, the accuracy on each configured FPQA / KUQA
set), each with a bootstrap CI over items
and the paired change against the base model on the same items."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.naming import parse_variant_label
from factgap.reports.common import (
    Report,
    ReportInputs,
    add_ci_columns,
    describe_difference,
    describe_groups,
    finish_figure,
    fmt_ci,
)
from factgap.reports.s3_common import BASE, item_values, metric_order, paired_values, qa_set_note
from factgap.stats import bootstrap_mean, bootstrap_paired_difference

TITLE = "S3: preference tuning in and out of domain (change vs the base model)"
PAPER_FINDING = (
    "Yuan et al. 2024 (Section 3.4, Figure 2) tune Llama-2-7B-Chat and Llama-3-8B-Instruct with DPO, IPO, KTO, CPO "
    "and RSO on biography preference pairs: factuality improves in domain (Bio FActScore) but barely moves or falls "
    "on the out-of-domain tests FAVA, FPQA and KUQA, by as much as 8.47%. Adding atomic preferences raises the "
    "average over the in- and out-of-domain tests by 3.45% (Table 2)."
)
IN_DOMAIN = "factscore_bios"
MAX_MODELS = 3


def training_record(histories: pd.DataFrame, variant: str) -> dict:
    """The evaluated epoch of a variant and its dev reward accuracy (empty for the base model)."""
    if variant == BASE or histories.empty:
        return {"epoch": None, "dev_reward_accuracy": None}
    v = parse_variant_label(variant)
    rows = histories[
        (histories["method"] == v.method) & (histories["pair_set"] == v.training_set) & histories[f"is_{v.checkpoint}"]
    ]
    if rows.empty:
        return {"epoch": None, "dev_reward_accuracy": None}
    return {"epoch": int(rows["epoch"].iloc[0]), "dev_reward_accuracy": float(rows["dev_reward_accuracy"].iloc[0])}


def build_table(
    values: pd.DataFrame, histories: pd.DataFrame, n_resamples: int, confidence: float, seed: int
) -> pd.DataFrame:
    rows = []
    for model, group in values.groupby("model", sort=True):
        variants = [BASE] + sorted(set(group["variant"]) - {BASE}, key=parse_variant_label)
        for variant in variants:
            label = parse_variant_label(variant)
            for metric in metric_order(group["metric"].unique()):
                own = group[(group["variant"] == variant) & (group["metric"] == metric)]["value"].dropna()
                if own.empty:
                    continue
                row = {
                    "model": model,
                    "variant": variant,
                    "method": label.method or BASE,
                    "pair_set": label.training_set or "",
                    "metric": metric,
                    **training_record(histories, variant),
                }
                row.update(bootstrap_mean(own.to_numpy(float), n_resamples, confidence, seed).as_dict("value"))
                if variant != BASE:
                    a, b = paired_values(group, model, metric, variant, BASE)
                    row.update(bootstrap_paired_difference(a, b, n_resamples, confidence, seed).as_dict("change"))
                rows.append(row)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    main = [m for m in metric_order(table["metric"].unique()) if ":" not in m]
    tuned = table[(table["variant"] != BASE) & table["metric"].isin(main)]
    variants = sorted(tuned["variant"].unique())
    models = sorted(tuned["model"].unique())  # one row of panels per model (a paper config has two)
    fig, axes = plt.subplots(
        len(models),
        len(main),
        figsize=(3.2 * len(main), (0.3 * len(variants) + 2) * len(models)),
        sharey=True,
        squeeze=False,
    )
    for row_axes, model in zip(axes, models):
        for ax, metric in zip(row_axes, main):
            own = tuned[(tuned["metric"] == metric) & (tuned["model"] == model)]
            rows = own.set_index("variant").reindex(variants)
            y = range(len(variants))
            change = 100 * rows["change"]
            ax.barh(list(y), change, color=["C0" if "atomic" in v else "C1" for v in variants])
            ax.errorbar(
                change,
                list(y),
                xerr=[100 * (rows["change"] - rows["change_low"]), 100 * (rows["change_high"] - rows["change"])],
                fmt="none",
                color="k",
                capsize=2,
            )
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_title(f"{model}: {metric}" if len(models) > 1 else metric, fontsize=9)
            ax.set_xlabel("change vs base (points)")
    for row_axes in axes:
        row_axes[0].set_yticks(range(len(variants)), variants, fontsize=7)
    finish_figure(fig, TITLE, png_path, tight=True)


def _label(row) -> str:
    return f"{row['method']}/{row['pair_set']}"


def _in_domain_text(tuned: pd.DataFrame) -> str:
    rows = tuned[tuned["metric"] == IN_DOMAIN].dropna(subset=["change"]).sort_values("change", kind="stable")
    if rows.empty:
        return "its change under tuning is n/a"
    worst, best = rows.iloc[0], rows.iloc[-1]
    if len(rows) == 1:
        return f"the one tuned variant changes it by {describe_difference(worst, 'change', _label(worst))}"
    return (
        f"the {len(rows)} tuned variants change it by between {describe_difference(worst, 'change', _label(worst))} and "
        f"{describe_difference(best, 'change', _label(best))}"
    )


def _out_of_domain_text(tuned: pd.DataFrame) -> str:
    # Per-category QA rows are subsets of qa_em: counting them too would count the same drop twice.
    rows = tuned[(tuned["metric"] != IN_DOMAIN) & ~tuned["metric"].str.contains(":")].dropna(subset=["change"])
    if rows.empty:
        return "No out-of-domain change was measured."
    lowest = rows.sort_values("change", kind="stable").iloc[0]
    where = f"{_label(lowest)} on {lowest['metric']}"
    drops = rows[rows["change_high"] < 0]
    if len(drops):
        return (
            f"Out of domain, {len(drops)} of {len(rows)} changes are drops whose interval excludes 0; the "
            f"largest is {describe_difference(lowest, 'change', where)}."
        )
    if lowest["change"] < 0:
        return (
            f"Out of domain, none of the {len(rows)} changes is a drop whose interval excludes 0; the lowest "
            f"is {describe_difference(lowest, 'change', where)}."
        )
    return f"Out of domain, none of the {len(rows)} changes is below 0."


def _describe_model(model, rows: pd.DataFrame) -> str:
    base = rows[(rows["variant"] == BASE) & (rows["metric"] == IN_DOMAIN)]
    base_text = fmt_ci(*base[["value", "value_low", "value_high"]].iloc[0]) if len(base) else "n/a"
    tuned = rows[rows["variant"] != BASE]
    if tuned.empty or "change" not in tuned:
        return f"{model}: base in-domain FActScore {base_text}; no tuned variant was evaluated."
    return f"{model}: base in-domain FActScore {base_text}; {_in_domain_text(tuned)}. {_out_of_domain_text(tuned)}"


def describe(table: pd.DataFrame) -> str:
    """What this run found: the best and worst in-domain change vs the base model, and any out-of-domain drop."""
    if table.empty:
        return "No variant was evaluated."
    return describe_groups(table, "model", _describe_model, MAX_MODELS)


def build(inputs: ReportInputs, verifier: str, n_resamples: int, confidence: float, seed: int) -> Report:
    values = item_values(inputs, verifier)
    histories = inputs.frame("histories", empty_columns=["method", "pair_set"])
    table = build_table(values, histories, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError("no evaluated variant")
    shown = add_ci_columns(table[["model", "variant", "metric"]].copy(), table, ["value", "change"])
    shown["n"] = table["value_n"]
    shown["dev_reward_acc"] = [f"{v:.2f}" if v == v and v is not None else "" for v in table["dev_reward_accuracy"]]
    notes = (
        f"FActScore: share of a greedy answer's atomic facts the '{verifier}' verifier finds supported (bios: "
        "the test people; topics: non-person Vital Articles or FAVA prompts, never trained on); qa_em: exact "
        "match on the QA test split (qa_em:<category>: items of that SliCK category of the base model); "
        "mmlu_accuracy: 0-shot multiple choice. In % with 95% bootstrap CIs over items; 'change': the variant "
        "minus the base model on the same items (paired bootstrap; abstentions left out). dev_reward_acc: share "
        "of dev pairs whose implicit reward ranks chosen over rejected at the evaluated epoch."
        + qa_set_note(table["metric"])
    )
    return Report(table, shown, TITLE, notes, partial(plot, table), finding=describe(table))
