"""Bootstrap confidence intervals and the statistics of the tables (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int

    def as_dict(self, prefix: str) -> dict:
        return {prefix: self.value, f"{prefix}_low": self.low, f"{prefix}_high": self.high, f"{prefix}_n": self.n}


def bootstrap_mean(
    values: Sequence[float], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """Mean with a percentile bootstrap interval (resampling items with replacement)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    means = x[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    return Estimate(
        float(x.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)), int(x.size)
    )


def bootstrap_paired_difference(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """mean(a) - mean(b) for two scores of the *same* items, resampling items jointly."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in size: {a.shape} vs {b.shape}")
    return bootstrap_mean(a - b, n_resamples, confidence, seed)


def bootstrap_unpaired_difference(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Estimate:
    """mean(a) - mean(b) for independent samples, resampling each separately."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    da = a[rng.integers(0, a.size, size=(n_resamples, a.size))].mean(axis=1)
    db = b[rng.integers(0, b.size, size=(n_resamples, b.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    diff = da - db
    return Estimate(
        float(a.mean() - b.mean()),
        float(np.quantile(diff, alpha)),
        float(np.quantile(diff, 1 - alpha)),
        int(min(a.size, b.size)),
    )
