"""S2 Table 1 analogue: exact match of Known- vs Unknown-trained models, early stop vs convergence.

0-shot test exact match, overall and per knowledge category of the test items (categories from
the base model's probe), with bootstrap intervals; the gap Known - Unknown is a paired bootstrap
over the same test items. With S2 on bios (s2.wikibios), the bio set is one more dataset row: the
FActScore of each test person's greedy bio (an empty bio scores 0), per category of the person under
the base model's FActScore.
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

TITLE = "Known vs Unknown fine-tuning: test exact match (0-shot), FActScore on bios"
EXACT_MATCH, FACTSCORE = "exact match", "FActScore"
PAPER_FINDING = (
    "Gong et al. 2025, Table 1: models fine-tuned on Known facts answer more test questions correctly (0-shot exact "
    "match) than models fine-tuned on Unknown facts, by roughly 10-15 points on average over models and datasets "
    "(Llama-3.1-8B base on EntityQuestions: 40.30 vs 28.25), and the gap is wider for the converged models than for "
    "the early-stopped ones. The gap holds on MMLU (exact match on the option) and on WikiBios (FActScore of "
    "biographies of held-out people)."
)
MAX_GROUPS = 3


def bio_predictions(scores: pd.DataFrame, people: pd.DataFrame, verifier: str) -> pd.DataFrame:
    """Score rows (SCORE_SCHEMA plus model, dataset, variant) as prediction-like rows: one per test person
    and variant, ``correct`` = FActScore of the greedy bio under ``verifier`` (0 for an empty bio),
    ``category`` = the person's category under the base model (bio-sets test file)."""
    greedy = scores[(scores["sample"] == -1) & (scores["verifier"] == verifier)]
    if greedy.empty:
        raise ValueError(f"no greedy bio scored by verifier {verifier!r}")
    category = {(r.model, r.entity_id): r.category for r in people.itertuples()}
    value = greedy["score"].where(~greedy["abstained"].astype(bool), 0.0).fillna(0.0).astype(float)
    return pd.DataFrame(
        {
            "model": greedy["model"],
            "dataset": greedy["dataset"],
            "variant": greedy["variant"],
            "id": greedy["entity_id"],
            "prompt_mode": "zero_shot",
            "category": [category.get((m, e)) for m, e in zip(greedy["model"], greedy["entity_id"])],
            "correct": value,
            "metric": FACTSCORE,
        }
    )


def build_table(
    predictions: pd.DataFrame, known_set: str, unknown_set: str, n_resamples: int, confidence: float, seed: int
) -> pd.DataFrame:
    """One row per (model, dataset, stage, test subset); columns with EM (FActScore for bios) and CIs
    (fractions)."""
    zero = predictions[predictions["prompt_mode"] == "zero_shot"]
    # QA predictions carry no metric column (or NaN beside bio rows): theirs is exact match
    zero = zero.assign(metric=zero["metric"].fillna(EXACT_MATCH) if "metric" in zero else EXACT_MATCH)
    rows = []
    for (model, dataset), group in zero.groupby(["model", "dataset"], sort=True):
        metric = group["metric"].iloc[0]
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
                row = {"model": model, "dataset": dataset, "metric": metric, "stage": stage, "test_subset": subset}
                row.update(known_unknown_row(b, k, u, n_resamples, confidence, seed))
                rows.append(row)
    return pd.DataFrame(rows)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table[["model", "dataset", "metric", "stage", "test_subset", "known_em_n"]]
    out = out.rename(columns={"known_em_n": "n"}).copy()
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
        ax.set_ylabel(f"test {group['metric'].iloc[0]} (%)")
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
    return (
        f"{model}/{dataset}, {items}: the Known − Unknown {group['metric'].iloc[0]} gap in points is "
        + " and ".join(parts)
        + "."
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: the Known − Unknown gap on all test items, per stage, with its interval."""
    if table.empty:
        return "No Known/Unknown model pair was evaluated."
    return describe_groups(table, ["model", "dataset"], lambda key, rows: _describe_group(*key, rows), MAX_GROUPS)


def build(
    inputs: ReportInputs,
    known_set: str,
    unknown_set: str,
    n_resamples: int,
    confidence: float,
    seed: int,
    verifier: str | None = None,
) -> Report:
    """S2 Table 1 analogue from 0-shot predictions of the base, Known- and Unknown-trained models (and,
    given ``bio_scores``, their bios' FActScore under ``verifier``)."""
    predictions = inputs.frame("predictions", empty_columns=["prompt_mode"])
    if inputs.paths("bio_scores"):
        bios = bio_predictions(inputs.frame("bio_scores"), inputs.frame("bio_people"), verifier)
        predictions = pd.concat([predictions, bios], ignore_index=True)
    table = build_table(predictions, known_set, unknown_set, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError("no Known/Unknown model pairs among the predictions")
    notes = (
        f"Exact match in %, with {confidence:.0%} bootstrap intervals ({n_resamples} resamples over test items); "
        "gap = Known-trained - Unknown-trained, paired over the same items. test-<Category>: test items of that "
        "SliCK category under the base model's probe."
    )
    if inputs.paths("bio_scores"):
        notes += (
            f" Bio rows (metric FActScore): mean FActScore ({verifier} verifier) of the greedy bios of the held-out "
            "people, an empty bio scoring 0; test-known / test-unknown / test-between: people whose base-model "
            "FActScore falls in the Known / Unknown training people's range, or between."
        )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
