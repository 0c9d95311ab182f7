"""S4 analysis (pure): how far fine-tuning moves the model's option preferences, and whether that
predicts tuned accuracy once base accuracy is controlled for.

As implemented in the public code (``eval/analyse/metric.py``, ``partial_correlation.py``):

* rank Pearson: per item, Pearson r between the dense option ranks of the base (5-shot) and the
  tuned (0-shot) model; NaN (a constant rank vector) -> 0; averaged over the test set.
* partial Spearman of X (mean rank-r per model), Y (tuned accuracy) given Z (base accuracy): rank
  all three (average ranks for ties), regress rank(X) and rank(Y) on [1, rank(Z)] by OLS, then
  correlate the residuals. The public code takes the *Spearman* correlation of the residuals
  (``scipy.stats.spearmanr``), not the Pearson one the textbook partial rank correlation uses; both
  are offered (``method``), the public code's is the default. The p-value is the one scipy gives for
  the residuals (n - 2 degrees of freedom, as the public code; the textbook test uses n - 3).
* KL(base || tuned) in nats per item, averaged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from factgap.s4.probe import check_distribution, dense_ranks
from factgap.stats import Estimate, bootstrap_mean


@dataclass(frozen=True)
class PartialCorrelation:
    r: float
    p: float
    n: int
    method: str


def _pearson(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson r; NaN when either vector is constant."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"need two vectors of one length >= 2, got {x.shape} and {y.shape}")
    x, y = x - x.mean(), y - y.mean()
    denom = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return float("nan") if denom == 0 else float(np.clip((x * y).sum() / denom, -1.0, 1.0))


def rank_pearson(base_probs: Sequence[float], tuned_probs: Sequence[float]) -> float:
    """Pearson r of the dense option ranks of one item (0 when a rank vector is constant)."""
    r = _pearson(dense_ranks(list(base_probs)), dense_ranks(list(tuned_probs)))
    return 0.0 if math.isnan(r) else r


def mean_rank_pearson(base: Sequence[Sequence[float]], tuned: Sequence[Sequence[float]]) -> float:
    """Mean per-item ``rank_pearson`` over a test set (items aligned by position)."""
    if len(base) != len(tuned) or not base:
        raise ValueError(f"need aligned, non-empty item lists, got {len(base)} and {len(tuned)}")
    return float(np.mean([rank_pearson(b, t) for b, t in zip(base, tuned)]))


def _residuals(y: np.ndarray, control: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones_like(control), control])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ coef


def merge_float_ties(values: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Values that differ only by floating-point residue (within ``rtol`` of the vector's scale) made equal.

    Least-squares residuals that are tied in exact arithmetic come out 1e-16 apart; ranking them as
    they are would order them by rounding noise. Each run of sorted values whose consecutive gaps are
    within the tolerance takes the run's first value.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values
    tol = rtol * max(1.0, float(np.max(np.abs(values))))
    order = np.argsort(values, kind="stable")
    merged = values.copy()
    anchor = values[order[0]]
    for previous, current in zip(order[:-1], order[1:]):
        if values[current] - values[previous] > tol:
            anchor = values[current]
        merged[current] = anchor
    return merged


def partial_spearman(
    x: Sequence[float], y: Sequence[float], z: Sequence[float], method: str = "spearman"
) -> PartialCorrelation:
    """Correlation of X and Y controlling for Z on ranks (see module doc); ``method`` correlates the
    residuals by ``"spearman"`` (public code) or ``"pearson"`` (textbook partial rank correlation).

    Exact under ties: residuals tied in exact arithmetic are ranked as ties (``merge_float_ties``).
    NaN (r and p) where the partial correlation is undefined: X or Y constant, or X or Y fully
    explained by Z (a constant residual). A constant Z controls for nothing: the plain Spearman r.
    """
    from scipy import stats

    if not len(x) == len(y) == len(z):
        raise ValueError(f"X, Y, Z differ in length: {len(x)}, {len(y)}, {len(z)}")
    if len(x) < 4:
        raise ValueError(f"need at least 4 models, got {len(x)}")
    if method not in ("spearman", "pearson"):
        raise ValueError(f"unknown method {method!r}: 'spearman' or 'pearson'")
    nan = PartialCorrelation(float("nan"), float("nan"), len(x), method)
    ranks = [stats.rankdata(v) for v in (x, y, z)]  # average ranks for ties, as pandas' rank()
    if np.ptp(ranks[0]) == 0 or np.ptp(ranks[1]) == 0:
        return nan
    rx, ry, rz = ranks
    res_x, res_y = (merge_float_ties(_residuals(r, rz)) for r in (rx, ry))
    if np.ptp(res_x) == 0 or np.ptp(res_y) == 0:
        return nan
    if method == "spearman":
        r, p = stats.spearmanr(res_x, res_y)
    else:
        r, p = stats.pearsonr(res_x, res_y)
    return PartialCorrelation(float(r), float(p), len(x), method)


def kl_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """KL(p || q) in nats; inf when q is 0 where p is not."""
    p = np.asarray(check_distribution(p, "p"), dtype=float)
    q = np.asarray(check_distribution(q, "q"), dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"distributions differ in size: {p.size} vs {q.size}")
    p, q = p / p.sum(), q / q.sum()
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def mean_kl(base: Sequence[Sequence[float]], tuned: Sequence[Sequence[float]]) -> float:
    """Mean per-item KL(base || tuned) in nats."""
    if len(base) != len(tuned) or not base:
        raise ValueError(f"need aligned, non-empty item lists, got {len(base)} and {len(tuned)}")
    return float(np.mean([kl_divergence(b, t) for b, t in zip(base, tuned)]))


def accuracy(correct: Sequence[bool], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Micro-averaged accuracy with a seeded percentile-bootstrap interval over items."""
    return bootstrap_mean([1.0 if c else 0.0 for c in correct], n_resamples, confidence, seed)
