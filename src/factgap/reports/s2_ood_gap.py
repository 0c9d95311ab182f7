"""S2 Table 2 analogue: the Known/Unknown gap in- and out-of-distribution.

0-shot exact match of the Known- and Unknown-trained models on the in-distribution test set and
on the held-out relations (OOD), the paired gap Known - Unknown, and the ID-OOD similarity of the
test questions (all-MiniLM-L6-v2 embeddings; Gong et al. find the gap closes on dissimilar OOD sets).
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
    difference_text,
    finish_figure,
    known_unknown_row,
    points,
    sort_by_stage,
)

TITLE = "Known vs Unknown fine-tuning in- and out-of-distribution (0-shot exact match)"
TESTSETS = ("test", "ood")
SIMILARITY_KEYS = ("centroid_cosine", "mean_pairwise_cosine")
PAPER_FINDING = (
    "Gong et al. 2025, Table 2: the Known-Unknown gap shrinks as the test questions move away from the training "
    "distribution; on mmlu_ood, whose questions have a cosine similarity of about 0.55 to the in-distribution ones "
    "(all-MiniLM-L6-v2), the early-stopped Llama-3.1-8B models score 66.11 and 67.05, so the gap is essentially gone."
)
MAX_GROUPS = 3


def similarity_frame(records, meta) -> pd.DataFrame:
    """Similarity JSON records plus their (model, dataset) meta as a table."""
    rows = [{**dict(m), **{k: float(r[k]) for k in SIMILARITY_KEYS}} for r, m in zip(records, meta, strict=True)]
    return pd.DataFrame(rows, columns=["model", "dataset", *SIMILARITY_KEYS])


def build_table(
    predictions: pd.DataFrame,
    similarity: pd.DataFrame,
    n_resamples: int,
    confidence: float,
    seed: int,
    known_set: str = "known",
    unknown_set: str = "unknown",
) -> pd.DataFrame:
    """One row per (model, dataset, stage, testset); EM of both models, the paired gap (fractions)
    and, on OOD rows, the ID-OOD similarity."""
    zero = predictions[predictions["prompt_mode"] == "zero_shot"]
    sims = {(r.model, r.dataset): r for r in similarity.itertuples()} if not similarity.empty else {}
    rows = []
    for (model, dataset), group in zero.groupby(["model", "dataset"], sort=True):
        for stage in STAGES:
            for testset in TESTSETS:
                part = group[group["testset"] == testset]
                known = part[part["variant"] == variant_label(known_set, stage)].sort_values("id")
                unknown = part[part["variant"] == variant_label(unknown_set, stage)].sort_values("id")
                if known.empty or unknown.empty:
                    continue
                base = part[part["variant"] == BASE]
                row = {"model": model, "dataset": dataset, "stage": stage, "testset": testset}
                try:
                    row.update(known_unknown_row(base, known, unknown, n_resamples, confidence, seed))
                except ValueError as err:
                    raise ValueError(f"{model}/{dataset}/{testset}/{stage}: {err}") from None
                sim = sims.get((model, dataset)) if testset == "ood" else None
                for key in SIMILARITY_KEYS:
                    row[key] = float(getattr(sim, key)) if sim is not None else float("nan")
                rows.append(row)
    return pd.DataFrame(rows)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table[["model", "dataset", "stage", "testset", "known_em_n"]].rename(columns={"known_em_n": "n"}).copy()
    out["testset"] = out["testset"].map({"test": "ID", "ood": "OOD"}).fillna(out["testset"])
    add_ci_columns(out, table, ("base_em", "known_em", "unknown_em", "gap"))
    for key in SIMILARITY_KEYS:
        out[f"ID-OOD {key.replace('_', ' ')}"] = ["" if pd.isna(v) else f"{v:.3f}" for v in table[key]]
    return out


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(table.groupby(["model", "dataset"], sort=True))
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(6 * max(1, len(groups)), 4.2), squeeze=False)
    for ax, ((model, dataset), group) in zip(axes[0], groups):
        x = range(len(group))
        for offset, (col, label, color) in enumerate(
            (("known_em", "Known-trained", "tab:blue"), ("unknown_em", "Unknown-trained", "tab:orange"))
        ):
            err = [(group[col] - group[f"{col}_low"]) * 100, (group[f"{col}_high"] - group[col]) * 100]
            ax.bar(
                [i + (offset - 0.5) * 0.38 for i in x],
                group[col] * 100,
                width=0.38,
                yerr=err,
                capsize=4,
                label=label,
                color=color,
            )
        for i, (_, row) in zip(x, group.iterrows()):
            ax.annotate(
                f"gap {100 * row['gap']:+.1f}",
                (i, max(row["known_em_high"], row["unknown_em_high"]) * 100),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax.set_xticks(
            list(x),
            [
                f"{'ID' if t == 'test' else 'OOD'}\n{s.replace('_', ' ')}"
                for t, s in zip(group["testset"], group["stage"])
            ],
            fontsize=8,
        )
        ax.set_ylabel("exact match (%)")
        cos = group["centroid_cosine"].dropna()
        ax.set_title(
            f"{model} / {dataset}" + (f"  (ID-OOD centroid cosine {cos.iloc[0]:.2f})" if len(cos) else ""), fontsize=9
        )
        ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path, tight=True)


def _describe_testset(rows: pd.DataFrame) -> str:
    """'ID: gap ... at early stop (Known a, Unknown b) and ... at convergence (...)' for one test set."""
    testset = rows["testset"].iloc[0]
    label = {"test": "in distribution", "ood": "out of distribution"}.get(testset, str(testset))
    cosine = rows["centroid_cosine"].dropna()
    if len(cosine):
        label += f" (ID-OOD centroid cosine {cosine.iloc[0]:.2f})"
    parts = [
        f"{difference_text(r)} at {str(r['stage']).replace('_', ' ')} (Known {points(r['known_em'])}, "
        f"Unknown {points(r['unknown_em'])})"
        for _, r in sort_by_stage(rows).iterrows()
    ]
    return f"{label} {' and '.join(parts)}"


def describe(table: pd.DataFrame) -> str:
    """What this run found: the Known − Unknown gap in and out of distribution, per stage."""
    if table.empty:
        return "No Known/Unknown model pair was evaluated."
    groups = list(table.groupby(["model", "dataset"], sort=False, dropna=False))
    sentences = []
    for (model, dataset), group in groups[:MAX_GROUPS]:
        parts = [_describe_testset(rows) for _, rows in group.groupby("testset", sort=False, dropna=False)]
        sentences.append(
            f"{model}/{dataset}: the Known − Unknown exact-match gap in points is " + "; ".join(parts) + "."
        )
    return " ".join(sentences) + (" ..." if len(groups) > MAX_GROUPS else "")


def build(inputs: ReportInputs, n_resamples: int, confidence: float, seed: int) -> Report:
    """The S2 OOD table."""
    similarity = similarity_frame(inputs.json("similarity"), inputs.meta("similarity"))
    table = build_table(inputs.frame("predictions"), similarity, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError("no Known/Unknown model pairs among the 0-shot predictions")
    if not (table["testset"] == "ood").any():
        raise ValueError("no OOD predictions of the Known/Unknown models (does the dataset declare ood_relations?)")
    notes = (
        f"Exact match in %, with {confidence:.0%} bootstrap intervals ({n_resamples} resamples over test items); "
        "gap = Known-trained - Unknown-trained, paired over the same items. ID: in-distribution test relations; "
        "OOD: held-out relations. Similarity of ID and OOD test questions (all-MiniLM-L6-v2 by default): cosine "
        "of the two sets' mean embeddings, and mean cosine over all ID x OOD pairs (Gong et al.: mmlu_ood ~0.55)."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
