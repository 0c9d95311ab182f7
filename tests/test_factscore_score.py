import math

import pytest

from factgap.factscore.score import bootstrap_ci, factscore, length_penalty, tier_summary


def test_factscore_by_definition():
    # 12 facts, 9 supported: n >= gamma, no penalty
    s = factscore([True] * 9 + [False] * 3)
    assert (s["n_facts"], s["n_supported"]) == (12, 9)
    assert s["score"] == pytest.approx(0.75) and s["score_lp"] == pytest.approx(0.75)
    # 4 facts, 3 supported: penalty exp(1 - 10/4) = exp(-1.5)
    s = factscore([True, True, False, True])
    assert s["score"] == pytest.approx(0.75)
    assert s["score_lp"] == pytest.approx(0.75 * math.exp(-1.5))
    # exactly gamma facts: exp(0) = 1
    assert factscore([True] * 10)["score_lp"] == pytest.approx(1.0)
    # gamma = 0 turns the penalty off
    assert factscore([True], gamma=0)["score_lp"] == pytest.approx(1.0)
    assert factscore([True], gamma=5)["score_lp"] == pytest.approx(math.exp(1 - 5))


def test_no_facts_is_an_abstention():
    s = factscore([])
    assert s["abstained"] and s["n_facts"] == 0
    assert math.isnan(s["score"]) and math.isnan(s["score_lp"])
    with pytest.raises(ValueError):
        length_penalty(0)


def test_tier_summary_skips_abstentions_and_is_seeded():
    scores = [factscore(d) for d in ([True, False], [True, True], [], [False] * 3, [True] * 10)]
    tiers = ["a", "a", "a", "b", "b"]
    out = tier_summary(scores, tiers, n_boot=200, seed=1)
    assert out["a"]["mean"] == pytest.approx(0.75) and out["a"]["n"] == 3 and out["a"]["n_abstained"] == 1
    assert out["a"]["respond_ratio"] == pytest.approx(2 / 3) and out["a"]["facts_per_response"] == pytest.approx(2)
    assert out["b"]["mean"] == pytest.approx(0.5)
    assert out["a"]["ci_low"] <= out["a"]["mean"] <= out["a"]["ci_high"]
    assert out == tier_summary(scores, tiers, n_boot=200, seed=1)
    lp = tier_summary(scores, tiers, key="score_lp", n_boot=50)
    assert lp["a"]["mean"] < out["a"]["mean"]
    with pytest.raises(ValueError):
        tier_summary(scores, tiers[:-1])


def test_bootstrap_ci():
    assert bootstrap_ci([0.4]) == (0.4, 0.4)
    lo, hi = bootstrap_ci([0.0, 1.0] * 50, n_boot=500, seed=0)
    assert 0.35 < lo < 0.5 < hi < 0.65
    assert bootstrap_ci([0.0, 1.0] * 50, n_boot=500, seed=0) == (lo, hi)
    assert all(math.isnan(v) for v in bootstrap_ci([]))
