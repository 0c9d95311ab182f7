"""S1: test exact match per SliCK category of the test items, for every single-category model.

Gekhman et al. fine-tune on a single category (only HighlyKnown, only MaybeKnown, ...) and report
test accuracy per category: MaybeKnown training does best overall. 0-shot exact match on the
in-distribution test set, at early stop and at convergence; every other fine-tuned variant present
(mixtures, known/unknown) and the base model are reported alongside for reference.
"""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.naming import BASE, parse_variant_label
from factgap.naming import CATEGORIES as CATEGORY_ORDER
from factgap.naming import CHECKPOINTS as STAGES
from factgap.reports.common import Report, ReportInputs, finish_figure, fmt_ci, zero_shot_test
from factgap.stats import bootstrap_mean

TITLE = "Test exact match per test-item category, single-category fine-tuning (0-shot)"
PAPER_FINDING = (
    "Gekhman et al. 2024 (single-category variants): of the models fine-tuned on a single knowledge category, "
    "the MaybeKnown one had "
    "the best overall test accuracy, ahead of the HighlyKnown one, which did worse on MaybeKnown test questions; "
    "training on WeaklyKnown or Unknown examples alone gave the weakest models, and they lost the most between early "
    "stop and convergence."
)
MAX_GROUPS = 3


def split_variant(variant: str) -> tuple[str, str]:
    """'only-MaybeKnown-early_stop' -> ('only-MaybeKnown', 'early_stop'); 'base' -> ('base', '')."""
    parsed = parse_variant_label(variant)
    return (BASE, "") if parsed.is_base else (parsed.training_set, parsed.checkpoint)


def training_set_order(name: str) -> tuple:
    """Single-category sets first (category order), then the rest alphabetically, the base model last."""
    if name.startswith("only-") and name[5:] in CATEGORY_ORDER:
        return (0, CATEGORY_ORDER.index(name[5:]), name)
    if name == BASE:
        return (2, 0, name)
    return (1, 0, name)


def category_order(categories) -> list[str]:
    present = set(categories)
    return [c for c in CATEGORY_ORDER if c in present] + sorted(present - set(CATEGORY_ORDER))


def build_table(predictions: pd.DataFrame, n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    """One row per (model, dataset, training_set, stage, test_subset) with EM and its CI (fractions)."""
    test = zero_shot_test(predictions)
    rows = []
    for (model, dataset), group in test.groupby(["model", "dataset"], sort=True):
        subsets = ["all", *category_order(group["category"].unique())]
        for variant, items in group.groupby("variant", sort=True):
            training_set, stage = split_variant(variant)
            for subset in subsets:
                chosen = items if subset == "all" else items[items["category"] == subset]
                row = {
                    "model": model,
                    "dataset": dataset,
                    "training_set": training_set,
                    "stage": stage,
                    "variant": variant,
                    "test_subset": subset,
                }
                row.update(bootstrap_mean(chosen["correct"], n_resamples, confidence, seed).as_dict("em"))
                rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    subset_rank = {s: i for i, s in enumerate(["all", *CATEGORY_ORDER])}
    order = sorted(
        range(len(table)),
        key=lambda i: (
            table.model[i],
            table.dataset[i],
            training_set_order(table.training_set[i]),
            STAGES.index(table.stage[i]) if table.stage[i] in STAGES else -1,
            subset_rank.get(table.test_subset[i], len(subset_rank)),
            table.test_subset[i],
        ),
    )
    return table.iloc[order].reset_index(drop=True)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Wide: one row per model variant, one column per test subset."""
    cells = table.assign(cell=[fmt_ci(v, lo, hi) for v, lo, hi in zip(table["em"], table["em_low"], table["em_high"])])
    subsets = list(dict.fromkeys(table["test_subset"]))
    wide = cells.pivot_table(
        index=["model", "dataset", "training_set", "stage"],
        columns="test_subset",
        values="cell",
        aggfunc="first",
        sort=False,
    )
    counts = table.groupby("test_subset")["em_n"].max()
    wide = wide[[s for s in subsets if s in wide.columns]]
    wide.columns = [f"{s} (n={int(counts[s])})" for s in wide.columns]
    return wide.reset_index().fillna("n/a")


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = table[table["training_set"] != BASE]
    panels = [(k, g) for k, g in trained.groupby(["model", "dataset", "stage"], sort=False)]
    panels.sort(key=lambda kg: (kg[0][0], kg[0][1], STAGES.index(kg[0][2])))
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(6.5 * max(1, len(panels)), 4.2), squeeze=False)
    for ax, ((model, dataset, stage), group) in zip(axes[0], panels):
        subsets = list(dict.fromkeys(group["test_subset"]))
        sets = sorted(group["training_set"].unique(), key=training_set_order)
        width = 0.8 / max(1, len(sets))
        for j, name in enumerate(sets):
            part = group[group["training_set"] == name].set_index("test_subset").reindex(subsets)
            x = [i + (j - (len(sets) - 1) / 2) * width for i in range(len(subsets))]
            err = [(part["em"] - part["em_low"]).fillna(0) * 100, (part["em_high"] - part["em"]).fillna(0) * 100]
            ax.bar(x, part["em"] * 100, width=width, yerr=err, capsize=2, label=name)
        base = table[(table["model"] == model) & (table["dataset"] == dataset) & (table["training_set"] == BASE)]
        if not base.empty:
            base = base.set_index("test_subset").reindex(subsets)
            ax.scatter(
                range(len(subsets)), base["em"] * 100, marker="_", s=400, color="black", zorder=3, label="base model"
            )
        ax.set_xticks(
            range(len(subsets)),
            [f"test: {s}" if s != "all" else "all test" for s in subsets],
            rotation=20,
            ha="right",
            fontsize=8,
        )
        ax.set_ylabel("test exact match (%)")
        ax.set_title(f"{model} / {dataset} / {stage.replace('_', ' ')}", fontsize=9)
        ax.legend(fontsize=7, title="fine-tuned on", title_fontsize=7)
    finish_figure(fig, TITLE, png_path, tight=True)


def _em(row) -> str:
    return fmt_ci(row["em"], row["em_low"], row["em_high"])


def _describe_stage(stage, rows: pd.DataFrame) -> str:
    """Best and worst training set on all test items at one stage."""
    label = str(stage).replace("_", " ")
    ranked = rows.dropna(subset=["em"]).sort_values("em", ascending=False, kind="stable")
    if ranked.empty:
        return f"at {label} n/a"
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    if len(ranked) == 1:
        return f"at {label} {best['training_set']} scores {_em(best)}"
    return (
        f"at {label} the best of {len(ranked)} training sets is {best['training_set']} with {_em(best)} and the "
        f"worst {worst['training_set']} with {_em(worst)}"
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: the best and worst fine-tuning set on all test items, per stage."""
    if table.empty:
        return "No fine-tuned model was evaluated on the test set."
    overall = table[(table["training_set"] != BASE) & (table["test_subset"] == "all")]
    groups = list(overall.groupby(["model", "dataset"], sort=False, dropna=False))
    sentences = []
    for (model, dataset), group in groups[:MAX_GROUPS]:
        stages = sorted(group["stage"].unique(), key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES))
        parts = [_describe_stage(s, group[group["stage"] == s]) for s in stages]
        sentences.append(f"{model}/{dataset}, exact match on all test items (%): " + "; ".join(parts) + ".")
    return " ".join(sentences) + (" ..." if len(groups) > MAX_GROUPS else "")


def build(inputs: ReportInputs, n_resamples: int, confidence: float, seed: int) -> Report:
    """The S1 per-category test accuracy figure."""
    table = build_table(inputs.frame("predictions"), n_resamples, confidence, seed)
    if table.empty or (table["training_set"] == BASE).all():
        raise ValueError("no 0-shot in-distribution test predictions of a fine-tuned model")
    notes = (
        f"Exact match in %, with {confidence:.0%} bootstrap intervals ({n_resamples} resamples over test items). "
        "Columns: all test items, then test items of each SliCK category under the base model's probe. "
        "only-<Category>: fine-tuned on that category alone; the Unknown-only set may be named 'unknown' "
        "(shared with S2) when the Unknown group is exactly the Unknown category."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
