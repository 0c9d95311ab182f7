"""S3 preference pairs: general (FactTune rule), atomic, mixing, KTO conversion, RSO sampling."""

import math
import random

import pyarrow.parquet as pq
import pytest

from factgap.io import write_parquet
from factgap.preference import pairs as P

NAN = float("nan")


def texts(pairs):
    return [(p["chosen"], p["rejected"]) for p in pairs]


def test_general_pairs_every_strictly_better_pair_no_ties_no_nan():
    got = P.general_pairs("bio of X", ["a", "b", "c", "d", "e"], [0.9, 0.5, 0.5, NAN, 0.1])
    assert texts(got) == [("a", "b"), ("a", "c"), ("a", "e"), ("b", "e"), ("c", "e")]  # no (b, c) tie, no d
    assert all(p["source"] == "general" and p["prompt"] == "bio of X" for p in got)
    assert all(p["chosen_score"] > p["rejected_score"] for p in got)
    assert len({p["pair_id"] for p in got}) == len(got)
    assert P.general_pairs("x", ["a", "b"], [None, 0.3]) == []  # None = abstained too


def test_general_pairs_threshold_is_strict():
    got = P.general_pairs("p", ["a", "b", "c"], [1.0, 0.5, 0.0], threshold=0.5)
    assert texts(got) == [("a", "c")]  # 1.0 > 0.5 + 0.5 is false, so (a, b) and (b, c) do not pair
    with pytest.raises(ValueError):
        P.general_pairs("p", ["a"], [1.0, 2.0])


def test_general_pairs_identical_texts_never_pair_and_pairs_are_unique():
    got = P.general_pairs("p", ["a", "a", "b", "b"], [0.9, 0.9, 0.2, 0.2])
    assert texts(got) == [("a", "b")]


def test_general_pairs_cap_is_a_seeded_subset():
    responses, scores = [f"r{i}" for i in range(6)], [i / 10 for i in range(6)]
    full = P.general_pairs("p", responses, scores)
    assert len(full) == 15
    capped = P.general_pairs("p", responses, scores, max_pairs=4, seed=3)
    assert len(capped) == 4 and set(texts(capped)) <= set(texts(full))
    assert capped == P.general_pairs("p", responses, scores, max_pairs=4, seed=3)
    assert any(texts(P.general_pairs("p", responses, scores, max_pairs=4, seed=s)) != texts(capped) for s in range(5))
    order = [texts(full).index(x) for x in texts(capped)]
    assert order == sorted(order)  # original order kept


def test_general_pairs_from_rows_do_not_depend_on_row_order():
    rows = [
        {"prompt": f"p{k}", "prompt_id": f"id{k}", "response": f"r{k}{i}", "score": (i * 7 % 5) / 4}
        for k in range(3)
        for i in range(5)
    ]
    a = P.general_pairs_from_rows(rows, max_pairs=3, seed=1)
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    b = P.general_pairs_from_rows(shuffled, max_pairs=3, seed=1)
    assert sorted(p["pair_id"] for p in a) == sorted(p["pair_id"] for p in b)
    assert {p["origin_id"] for p in a} == {"id0", "id1", "id2"}


def fact(fid, r, answers, expected="Paris", slot="birth_place", entity=None):
    return {
        "fact_id": fid,
        "question": f"Where was {entity or fid} born?",
        "expected_answer": expected,
        "samples": [{"answer": a, "correct": c} for a, c in answers],
        "r": r,
        "slot": slot,
        "entity": entity or fid,
    }


FACTS = [
    fact("unknown", 0.0, [("Rome", False), ("Oslo", False)]),
    fact("known", 1.0, [("Paris", True), ("paris", True)]),
    fact(
        "maybe",
        0.6,
        [("Paris", True), ("Lyon", False), ("paris.", True), ("Nice", False), ("Lyon", False)],
        expected="Paris, France",
    ),
    fact("other", 0.5, [("Berlin", True), ("Bonn", False)], expected="Berlin", entity="Einstein"),
]


def test_atomic_pairs_only_potentially_known_model_wrong_answer():
    got = P.atomic_pairs(FACTS)
    assert [p["origin_id"] for p in got] == ["maybe", "other"]
    maybe = got[0]
    assert maybe["source"] == "atomic" and maybe["prompt"] == "Where was maybe born?"
    assert (maybe["chosen"], maybe["rejected"]) == ("Paris", "Lyon")  # most frequent correct / wrong sample
    assert maybe["chosen_score"] == 0.6
    assert P.atomic_pairs(FACTS, chosen_from="expected")[0]["chosen"] == "Paris, France"
    assert P.atomic_pairs(FACTS, r_low=0.55) == [p for p in got if p["origin_id"] == "maybe"]


def test_atomic_r_defaults_to_share_of_correct_samples():
    f = {k: v for k, v in fact("x", None, [("A", True), ("B", False), ("B", False)], expected="A").items() if k != "r"}
    assert P.fact_r(f) == pytest.approx(1 / 3)
    assert texts(P.atomic_pairs([f])) == [("A", "B")]


def test_atomic_rejected_from_another_entity_same_slot():
    facts = [
        fact("f1", 0.5, [("Paris", True), ("Lyon", False)], expected="Paris", entity="A"),
        fact("f2", 0.0, [], expected="Vienna", entity="B"),
        fact("f3", 0.0, [], expected="Madrid", entity="C"),
        fact("f4", 0.0, [], expected="paris", entity="D"),  # same value as the chosen: never used
        fact("f5", 0.0, [], expected="1901", slot="birth_year", entity="E"),
    ]
    got = P.atomic_pairs(facts, rejected_from="other_entity", seed=0)
    assert len(got) == 1 and got[0]["chosen"] == "Paris" and got[0]["rejected"] in {"Vienna", "Madrid"}
    seen = {P.atomic_pairs(facts, rejected_from="other_entity", seed=s)[0]["rejected"] for s in range(20)}
    assert seen == {"Vienna", "Madrid"}
    lonely = [fact("g", 0.5, [("X", True), ("Y", False)], slot="spouse", entity="Z")]
    assert P.atomic_pairs(lonely, rejected_from="other_entity") == []
    with pytest.raises(ValueError):
        P.atomic_pairs(facts, rejected_from="judge")


def test_mix_pairs_ratio_and_seed():
    general = [{"pair_id": f"g{i}", "source": "general"} for i in range(10)]
    atomic = [{"pair_id": f"a{i}", "source": "atomic"} for i in range(4)]

    def counts(mixed):
        return sum(p["source"] == "atomic" for p in mixed), sum(p["source"] == "general" for p in mixed)

    assert counts(P.mix_pairs(general, atomic, 0.2)) == (2, 10)
    # too few atomic pairs for the ratio: every general pair stays, all atomic ones are added (APEFT mixes
    # atomic preferences into the general ones; general+atomic differs from general by the atomic pairs alone)
    assert counts(P.mix_pairs(general, atomic, 1.0)) == (4, 10)
    assert counts(P.mix_pairs(general, atomic, 2.0)) == (4, 10)
    general_only = {p["pair_id"] for p in P.mix_pairs(general, atomic, 0)}
    for ratio in (0.2, 1.0, 2.0, None):
        assert general_only <= {p["pair_id"] for p in P.mix_pairs(general, atomic, ratio)}
    assert counts(P.mix_pairs(general, [], 1.0)) == (0, 10)  # no atomic pair: the general set unchanged
    assert counts(P.mix_pairs(general, atomic, None)) == (4, 10)
    assert counts(P.mix_pairs(general, atomic, 0)) == (0, 10)
    assert counts(P.mix_pairs(general, atomic, math.inf)) == (4, 0)
    assert P.mix_pairs(general, atomic, 0.5, seed=7) == P.mix_pairs(general, atomic, 0.5, seed=7)
    assert P.mix_pairs(general, atomic, None, seed=1) != P.mix_pairs(general, atomic, None, seed=2)  # shuffled
    with pytest.raises(ValueError):
        P.mix_pairs(general, atomic, -1)


def test_kto_rows_two_per_pair_deduplicated_with_conflict_policies():
    pairs = P.general_pairs("p", ["hi", "mid", "lo"], [0.9, 0.5, 0.1])  # mid is chosen once, rejected once
    pairs += P.general_pairs("p", ["hi", "lo"], [0.9, 0.1])  # repeats (hi, lo)
    rows = P.kto_rows(pairs)
    assert {(r["completion"], r["label"]) for r in rows} == {("hi", True), ("mid", False), ("lo", False), ("mid", True)}
    assert len(rows) == 4 and all(r["prompt"] == "p" and r["source"] == "general" for r in rows)
    assert {(r["completion"], r["label"]) for r in P.kto_rows(pairs, "drop")} == {("hi", True), ("lo", False)}
    assert {(r["completion"], r["label"]) for r in P.kto_rows(pairs, "majority")} == {("hi", True), ("lo", False)}
    skewed = pairs + P.general_pairs("p", ["mid", "lo2"], [0.5, 0.0])  # mid chosen twice, rejected once
    assert ("mid", True) in {(r["completion"], r["label"]) for r in P.kto_rows(skewed, "majority")}


def test_rso_accept_extremes_and_nan():
    scores = [0.2, 0.9, NAN, 0.5]
    assert P.rso_accept(scores, beta=1e-6, seed=0) == [1]  # only the best survives a tiny beta
    assert sorted(P.rso_accept(scores, beta=1e6, seed=0)) == [0, 1, 3]  # everything but NaN at a huge beta
    assert 2 not in P.rso_accept(scores, beta=0.3, seed=5)
    with pytest.raises(ValueError):
        P.rso_accept(scores, beta=0)


def test_rso_accept_probability_is_exp_of_reward_gap_over_beta():
    n = 3000
    accepted = sum(0 in P.rso_accept([0.5, 1.0], beta=0.5, seed=s) for s in range(n))
    assert accepted / n == pytest.approx(math.exp(-1.0), abs=0.03)  # exp((0.5 - 1.0) / 0.5)


def test_rso_accept_num_samples_loop_returns_exactly_m():
    scores = [0.1, 0.2, 0.3, 0.4, 1.0]
    for seed in range(10):
        got = P.rso_accept(scores, beta=0.05, seed=seed, num_samples=3)
        assert len(got) == 3 and len(set(got)) == 3 and got[0] == 4  # the best goes first
    assert len(P.rso_accept(scores, beta=0.05, num_samples=10)) == 5


def test_rso_pairs_pair_only_accepted_responses():
    responses, scores = ["best", "good", "bad", "worst"], [1.0, 0.9, 0.1, 0.0]
    for seed in range(5):
        kept = {responses[i] for i in P.rso_accept(scores, beta=0.2, seed=seed, key="p")}
        got = P.rso_pairs("p", responses, scores, beta=0.2, seed=seed)
        assert {x for pair in texts(got) for x in pair} <= kept
        assert all(p["chosen_score"] > p["rejected_score"] for p in got)
    rows = [{"prompt": "p", "response": r, "score": s} for r, s in zip(responses, scores)]
    assert P.rso_pairs_from_rows(rows, beta=0.2, seed=1) == P.rso_pairs("p", responses, scores, beta=0.2, seed=1)


def test_pair_and_kto_tables_have_stable_schema(tmp_path):
    pairs = P.general_pairs("p", ["a", "b"], [1.0, 0.0]) + P.atomic_pairs(FACTS)
    write_parquet(P.pairs_table(pairs), tmp_path / "pairs.parquet")
    table = pq.read_table(tmp_path / "pairs.parquet")
    assert table.schema.equals(P.PAIR_SCHEMA) and table.num_rows == 3
    assert P.pairs_table([]).schema.equals(P.PAIR_SCHEMA)
    assert P.kto_table(P.kto_rows(pairs)).num_rows == 6
