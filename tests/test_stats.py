import numpy as np
import pytest

from factgap.stats import bootstrap_mean, bootstrap_paired_difference, bootstrap_unpaired_difference


def test_bootstrap_mean_interval_contains_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = rng.random(50) < 0.4
    large = rng.random(5000) < 0.4
    a, b = bootstrap_mean(small, 2000, 0.95, 1), bootstrap_mean(large, 2000, 0.95, 1)
    assert a.low <= a.value <= a.high and b.low <= b.value <= b.high
    assert (b.high - b.low) < (a.high - a.low)
    assert abs(b.value - 0.4) < 0.03


def test_bootstrap_is_seeded():
    x = [1, 0, 1, 1, 0, 0, 1]
    assert bootstrap_mean(x, 500, 0.9, 7) == bootstrap_mean(x, 500, 0.9, 7)


def test_constant_sample_has_zero_width():
    e = bootstrap_mean([1.0] * 20)
    assert e.low == e.value == e.high == 1.0


def test_paired_difference_detects_a_real_effect_and_needs_same_size():
    a = np.array([1] * 80 + [0] * 20)
    b = np.array([1] * 50 + [0] * 50)
    d = bootstrap_paired_difference(a, b, 1000, 0.95, 0)
    assert d.value == pytest.approx(0.3) and d.low > 0
    with pytest.raises(ValueError):
        bootstrap_paired_difference([1, 0], [1])


def test_unpaired_difference_and_empty_input():
    d = bootstrap_unpaired_difference([1, 1, 1, 0], [0, 0, 1], 500)
    assert d.value == pytest.approx(0.75 - 1 / 3)
    assert np.isnan(bootstrap_mean([]).value)
