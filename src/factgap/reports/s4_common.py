"""Shared pieces of the S4 reports: which variant plays which role, and base/tuned alignment."""

from __future__ import annotations

import pandas as pd

from factgap.naming import BASE, parse_variant_label

TESTSET_ORDER = ("homo", "id", "ood")
SET_LABELS = {"har": "HAR", "inc": "INC", "self": "SELF", "inc-context": "INC+context"}


def role_of(variant: str, checkpoint: str) -> str | None:
    """'base', 'HAR', 'INC', 'SELF', 'INC+context', 'SELF <f>' for the reported checkpoint, else None."""
    if variant == BASE:
        return "base"
    parsed = parse_variant_label(variant)
    if parsed.checkpoint != checkpoint:
        return None
    if parsed.training_set in SET_LABELS:
        return SET_LABELS[parsed.training_set]
    if parsed.training_set.startswith("self-ratio-"):
        return f"SELF {parsed.training_set.removeprefix('self-ratio-')}"
    return None


def self_fraction(role: str) -> float | None:
    """Share of SELF answers over INC's questions: INC 0, SELF 1, 'SELF f' f."""
    if role == "INC":
        return 0.0
    if role == "SELF":
        return 1.0
    if role.startswith("SELF "):
        return float(role.split()[1])
    return None


def aligned_with_base(predictions: pd.DataFrame, probes: pd.DataFrame) -> pd.DataFrame:
    """Tuned 0-shot rows joined to the base model's k-shot probe of the same item (probs_base, ranks_base)."""
    base = probes[["model", "id", "probs", "correct"]].rename(
        columns={"probs": "probs_base", "correct": "correct_base"}
    )
    base = base.drop_duplicates(["model", "id"])
    joined = predictions.merge(base, on=["model", "id"], how="left")
    missing = joined["probs_base"].isna()
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} test items have no base-model probe (e.g. {joined.loc[missing, 'id'].iloc[0]})"
        )
    return joined


def chance_accuracy(items: pd.DataFrame) -> float:
    """Accuracy of a uniform guess over each item's options (``probs`` holds one entry per option),
    averaged over the distinct items."""
    return float(items.drop_duplicates("id")["probs"].map(lambda p: 1.0 / len(p)).mean())


def draw_chance(ax, chance_by_position) -> None:
    """A dashed 'chance' segment over each x position (group of bars or point), in %."""
    for i, (x, level) in enumerate(chance_by_position):
        ax.hlines(
            100 * level,
            x - 0.45,
            x + 0.45,
            colors="black",
            linestyles="dashed",
            linewidth=1,
            label="chance" if i == 0 else None,
        )
