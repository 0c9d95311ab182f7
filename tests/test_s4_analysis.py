"""S4 analysis against scipy: rank Pearson, partial Spearman, KL, accuracy CI."""

import math

import numpy as np
import pytest
from scipy import stats

from factgap.s4 import analysis as A
from factgap.s4.probe import dense_ranks
from factgap.stats import bootstrap_mean

BASE = [[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]]
TUNED = [[0.6, 0.2, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.4, 0.1, 0.1, 0.4]]


def test_dense_ranks_share_ties():
    assert dense_ranks([0.7, 0.1, 0.1, 0.1]) == [1, 2, 2, 2]
    assert dense_ranks([0.1, 0.4, 0.4, 0.05]) == [2, 1, 1, 3]


def test_rank_pearson_matches_scipy_and_constant_is_zero():
    for b, t in zip(BASE, TUNED):
        rb, rt = dense_ranks(b), dense_ranks(t)
        expected = 0.0 if len(set(rb)) == 1 or len(set(rt)) == 1 else stats.pearsonr(rb, rt)[0]
        assert A.rank_pearson(b, t) == pytest.approx(expected, abs=1e-12)
    assert A.rank_pearson(BASE[1], TUNED[1]) == 0.0  # constant base ranks: scipy gives NaN, the paper 0
    assert A.rank_pearson(BASE[2], TUNED[2]) == pytest.approx(-1.0)
    assert A.rank_pearson(BASE[0], TUNED[0]) == pytest.approx(stats.pearsonr([1, 2, 2, 2], [1, 2, 3, 3])[0])
    per_item = [A.rank_pearson(b, t) for b, t in zip(BASE, TUNED)]
    assert A.mean_rank_pearson(BASE, TUNED) == pytest.approx(np.mean(per_item))
    with pytest.raises(ValueError):
        A.mean_rank_pearson(BASE, TUNED[:2])


X = [0.31, 0.42, 0.42, 0.55, 0.18, 0.66, 0.29, 0.50]  # ties in X
Y = [40.1, 44.0, 39.5, 47.2, 35.0, 47.2, 38.3, 45.9]  # ties in Y
Z = [30.0, 31.0, 29.0, 31.0, 28.0, 33.0, 30.0, 32.0]  # ties in Z


def residual(v, control):
    slope, intercept = np.polyfit(control, v, 1)
    return np.asarray(v) - (slope * np.asarray(control) + intercept)


def test_partial_spearman_as_the_public_code():
    import pandas as pd

    frame = pd.DataFrame({"X": X, "Y": Y, "Z": Z}).rank()  # the public code ranks with pandas
    rx, ry, rz = frame["X"].to_numpy(), frame["Y"].to_numpy(), frame["Z"].to_numpy()
    expected = stats.spearmanr(residual(rx, rz), residual(ry, rz))
    got = A.partial_spearman(X, Y, Z)
    assert (got.r, got.p, got.n, got.method) == (pytest.approx(expected[0]), pytest.approx(expected[1]), 8, "spearman")


def test_partial_pearson_of_residuals_is_the_textbook_partial_rank_correlation():
    r = np.corrcoef([stats.rankdata(X), stats.rankdata(Y), stats.rankdata(Z)])
    textbook = (r[0, 1] - r[0, 2] * r[1, 2]) / math.sqrt((1 - r[0, 2] ** 2) * (1 - r[1, 2] ** 2))
    got = A.partial_spearman(X, Y, Z, method="pearson")
    assert got.r == pytest.approx(textbook)
    # the two methods are different statistics: the public code's is not the textbook one
    assert A.partial_spearman(X, Y, Z).r != pytest.approx(got.r, abs=1e-3)
    with pytest.raises(ValueError):
        A.partial_spearman(X, Y, Z, method="kendall")
    with pytest.raises(ValueError):
        A.partial_spearman(X[:3], Y[:3], Z[:3])


def test_partial_spearman_constant_control_is_plain_spearman():
    got = A.partial_spearman(X, Y, [1.0] * len(X))
    assert got.r == pytest.approx(stats.spearmanr(X, Y)[0])


def test_kl_matches_scipy_entropy():
    for b, t in zip(BASE, TUNED):
        assert A.kl_divergence(b, t) == pytest.approx(stats.entropy(b, t), abs=1e-12)
    assert A.kl_divergence(BASE[3], BASE[3]) == 0.0
    assert A.kl_divergence([0.5, 0.5, 0, 0], [0.25, 0.25, 0.25, 0.25]) == pytest.approx(math.log(2))
    assert A.kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert A.mean_kl(BASE, TUNED) == pytest.approx(np.mean([stats.entropy(b, t) for b, t in zip(BASE, TUNED)]))
    with pytest.raises(ValueError, match="not a distribution"):
        A.kl_divergence([0.5, 0.6], [0.5, 0.5])


def test_accuracy_bootstrap_is_seeded():
    correct = [True] * 30 + [False] * 20
    est = A.accuracy(correct, seed=3)
    assert est.value == pytest.approx(0.6) and est.n == 50
    assert est.low < 0.6 < est.high
    assert est == A.accuracy(correct, seed=3) == bootstrap_mean([1.0] * 30 + [0.0] * 20, seed=3)
    assert est != A.accuracy(correct, seed=4)


# ---- partial Spearman under ties, against an exact rational computation ---------------------------
def _exact_average_ranks(values):
    from fractions import Fraction

    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [Fraction(0)] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = Fraction(i + j + 2, 2)
        i = j + 1
    return ranks


def _exact_partial_spearman(x, y, z):
    """Spearman of the exact (rational) residuals of rank(X), rank(Y) on [1, rank(Z)]; None if undefined."""
    import math

    rx, ry, rz = (_exact_average_ranks(v) for v in (x, y, z))
    n = len(x)
    zbar = sum(rz) / n
    szz = sum((v - zbar) ** 2 for v in rz)
    if len(set(rx)) == 1 or len(set(ry)) == 1:
        return None

    def residuals(r):  # a constant Z controls for nothing: centring only
        rbar = sum(r) / n
        slope = sum((a - zbar) * (b - rbar) for a, b in zip(rz, r)) / szz if szz else 0
        return [b - rbar - slope * (a - zbar) for a, b in zip(rz, r)]

    ex, ey = residuals(rx), residuals(ry)
    if len(set(ex)) == 1 or len(set(ey)) == 1:
        return None
    qx, qy = _exact_average_ranks(ex), _exact_average_ranks(ey)
    mx, my = sum(qx) / n, sum(qy) / n
    num = sum((a - mx) * (b - my) for a, b in zip(qx, qy))
    den2 = sum((a - mx) ** 2 for a in qx) * sum((b - my) ** 2 for b in qy)
    return float(num) / math.sqrt(float(den2)) if den2 else None


def test_partial_spearman_is_exact_under_ties():
    import math

    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(800):
        n = int(rng.integers(4, 9))
        x, y, z = (rng.integers(0, 4, n).tolist() for _ in range(3))
        exact = _exact_partial_spearman(x, y, z)
        got = A.partial_spearman(x, y, z)
        if exact is None:
            assert math.isnan(got.r) and math.isnan(got.p), (x, y, z, got)
        else:
            assert got.r == pytest.approx(exact, abs=1e-9), (x, y, z)
            checked += 1
    assert checked > 300


def test_partial_spearman_undefined_is_nan():
    import math

    assert math.isnan(A.partial_spearman([1, 1, 1, 1], [1, 2, 3, 4], [4, 1, 3, 2]).r)
    assert math.isnan(A.partial_spearman([1, 2, 3, 4], [4, 1, 2, 3], [10, 20, 30, 40]).r)  # X explained by Z


def test_merge_float_ties():
    v = np.array([0.1 + 0.2, 0.3, 1.0, 1.0 + 1e-15, 2.0])
    merged = A.merge_float_ties(v)
    assert merged[0] == merged[1] and merged[2] == merged[3] and len(set(merged)) == 3
