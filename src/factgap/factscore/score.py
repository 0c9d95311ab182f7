"""FActScore of responses and per-tier means with bootstrap intervals (FActScore step 4).

Per response with n atomic facts of which s are supported:

    score      = s / n
    score_lp   = score * exp(1 - gamma / n)   if n < gamma, else score   (gamma = 10)

The length penalty (FActScore's ``gamma``) keeps a model from scoring high by saying little.
A response with no atomic fact is an abstention, as in FActScore (its ``respond_ratio``): its
score is NaN, it is left out of the means and counted in ``n_abstained``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

DEFAULT_GAMMA = 10


class ResponseScore(TypedDict):
    n_facts: int
    n_supported: int
    score: float  # NaN when abstained
    score_lp: float  # with the length penalty; NaN when abstained
    abstained: bool


def length_penalty(n_facts: int, gamma: int = DEFAULT_GAMMA) -> float:
    """exp(1 - gamma / n) for 0 < n < gamma, else 1 (no penalty once n >= gamma)."""
    if n_facts <= 0:
        raise ValueError("the length penalty needs at least one fact")
    return math.exp(1 - gamma / n_facts) if gamma and n_facts < gamma else 1.0


def factscore(decisions: Sequence[bool], gamma: int = DEFAULT_GAMMA) -> ResponseScore:
    """The FActScore of one response from its facts' supported/not decisions."""
    n = len(decisions)
    if n == 0:
        return ResponseScore(n_facts=0, n_supported=0, score=math.nan, score_lp=math.nan, abstained=True)
    s = sum(1 for d in decisions if d)
    score = s / n
    return ResponseScore(
        n_facts=n, n_supported=s, score=score, score_lp=score * length_penalty(n, gamma), abstained=False
    )


def bootstrap_ci(
    values: Sequence[float], n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (seeded; a single value gives a point): the project's
    one bootstrap, ``factgap.stats.bootstrap_mean``, as the other tables use it."""
    from factgap.stats import bootstrap_mean

    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    estimate = bootstrap_mean(values, n_boot, confidence, seed)
    return estimate.low, estimate.high


def tier_summary(
    scores: Sequence[Mapping[str, Any]],
    tiers: Sequence[str],
    key: str = "score",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Per tier: mean of ``key`` over answered responses, bootstrap CI, n, n_abstained,
    respond_ratio and mean facts per answered response."""
    if len(scores) != len(tiers):
        raise ValueError("need one tier per response score")
    out: dict[str, dict[str, float]] = {}
    for tier in sorted(set(tiers)):
        rows = [s for s, t in zip(scores, tiers) if t == tier]
        answered = [s for s in rows if not s["abstained"]]
        values = [float(s[key]) for s in answered]
        lo, hi = bootstrap_ci(values, n_boot, confidence, seed)
        out[tier] = {
            "mean": sum(values) / len(values) if values else math.nan,
            "ci_low": lo,
            "ci_high": hi,
            "n": len(rows),
            "n_abstained": len(rows) - len(answered),
            "respond_ratio": len(answered) / len(rows) if rows else math.nan,
            "facts_per_response": (sum(s["n_facts"] for s in answered) / len(answered)) if answered else math.nan,
        }
    return out
