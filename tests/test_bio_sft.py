"""S2 on bios (factgap.bio_sft): Known / Unknown people by FActScore, reference bios, dev fact items."""

from __future__ import annotations

import pandas as pd
import pytest

from factgap.bio_sft import (
    BETWEEN,
    KNOWN,
    UNKNOWN,
    categorise,
    fact_items,
    greedy_factscores,
    reference_bio,
    split_known_unknown,
)
from factgap.factscore.entities import load_embedded_entities
from factgap.reports.s2_factuality_gap import FACTSCORE, bio_predictions

VERIFY = {"k": 5, "passage_words": 256, "overlap_threshold": 0.8}


def score(eid, value, sample=-1, verifier="rules", abstained=False):
    return {"entity_id": eid, "sample": sample, "verifier": verifier, "score": value, "abstained": abstained}


def test_greedy_scores_of_one_verifier_with_abstentions_as_zero():
    rows = [
        score("a", 0.5),
        score("a", 0.9, sample=0),  # a sampled bio: not the greedy one
        score("a", 0.1, verifier="llm"),
        score("b", None, abstained=True),
    ]
    assert greedy_factscores(rows, "rules") == {"a": 0.5, "b": 0.0}
    with pytest.raises(ValueError, match="verifier 'nli'"):
        greedy_factscores(rows, "nli")


def test_known_and_unknown_are_the_top_and_bottom_share_equal_in_size():
    scores = {f"p{i}": i / 10 for i in range(10)}
    known, unknown = split_known_unknown(scores, 0.3, seed=0)
    assert known == ["p7", "p8", "p9"] and unknown == ["p0", "p1", "p2"]
    with pytest.raises(ValueError, match="leaves no one"):
        split_known_unknown({"a": 0.1, "b": 0.2}, 0.34, seed=0)
    with pytest.raises(ValueError, match="share"):
        split_known_unknown(scores, 0.6, seed=0)


def test_ties_are_broken_by_the_seed_and_sets_stay_disjoint():
    scores = {f"p{i}": 0.0 for i in range(8)} | {"q": 1.0, "r": 0.5}
    draws = {tuple(split_known_unknown(scores, 0.3, seed=s)[1]) for s in range(6)}
    assert len(draws) > 1  # which zero-scored people are Unknown depends on the seed
    for s in range(6):
        known, unknown = split_known_unknown(scores, 0.3, seed=s)
        assert len(known) == len(unknown) == 3 and not set(known) & set(unknown)
        assert {"q", "r"} <= set(known)
    assert split_known_unknown(scores, 0.3, seed=2) == split_known_unknown(scores, 0.3, seed=2)


def test_test_people_take_the_training_cut_scores():
    assert categorise(0.1, unknown_ceiling=0.2, known_floor=0.6) == UNKNOWN
    assert categorise(0.2, unknown_ceiling=0.2, known_floor=0.6) == UNKNOWN
    assert categorise(0.4, unknown_ceiling=0.2, known_floor=0.6) == BETWEEN
    assert categorise(0.6, unknown_ceiling=0.2, known_floor=0.6) == KNOWN
    # every training score equal: nothing tells a test person's category
    assert categorise(0.0, unknown_ceiling=0.0, known_floor=0.0) == BETWEEN


def test_reference_bio_ends_at_a_sentence_when_it_can():
    text = ["Ada Lovelace was an English mathematician. She wrote the first program.", "She died in 1852."]
    assert (
        reference_bio(text, 100)
        == "Ada Lovelace was an English mathematician. She wrote the first program. She died in 1852."
    )
    assert reference_bio(text, 9) == "Ada Lovelace was an English mathematician."
    assert reference_bio(["One two three four five six. Seven"], 4) == "One two three four"  # no sentence end in reach


def test_dev_items_are_the_facts_of_each_bio_judged_against_the_person():
    curie = next(p for p in load_embedded_entities() if p["name"] == "Marie Curie")
    people = {curie["entity_id"]: curie}
    eid = curie["entity_id"]
    items = fact_items(
        people,
        [eid, eid],
        ["Marie Curie was born in 1867. Marie Curie was born in 1901.", "I am not sure."],
        VERIFY,
    )
    born = [i for i in items if i["id"].endswith(("#f0", "#f1"))]
    assert [i["correct"] for i in born] == [True, False]  # 1867 is her birth year, 1901 is not
    assert items[-1] == {"id": f"{eid}#none", "relation": "bio", "category": None, "prediction": "", "correct": False}


def test_bio_rows_of_the_gap_table_are_greedy_factscores_per_person():
    scores = pd.DataFrame(
        [
            {**score("a", 0.5), "model": "m", "dataset": "bios", "variant": "known-convergence"},
            {**score("a", 0.2, verifier="llm"), "model": "m", "dataset": "bios", "variant": "known-convergence"},
            {**score("b", None, abstained=True), "model": "m", "dataset": "bios", "variant": "known-convergence"},
        ]
    )
    people = pd.DataFrame(
        [{"model": "m", "entity_id": "a", "category": KNOWN}, {"model": "m", "entity_id": "b", "category": UNKNOWN}]
    )
    rows = bio_predictions(scores, people, "rules")
    assert rows[["id", "correct", "category"]].to_dict("records") == [
        {"id": "a", "correct": 0.5, "category": KNOWN},
        {"id": "b", "correct": 0.0, "category": UNKNOWN},
    ]
    assert set(rows["metric"]) == {FACTSCORE} and set(rows["prompt_mode"]) == {"zero_shot"}
