"""The normalised tables every loader produces, and their validation (pure).

QA facts (EntityQuestions form): one row per question.
Multiple-choice questions (MMLU, MedMCQA): one row per question with its options.
A loader that breaks a rule raises ``DataValidationError`` naming the file and the row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

SPLITS = ("train", "dev", "test")

# The fields that identify a question; every later table (probe, training sets, test sets) starts with them.
QUESTION_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("relation", pa.string(), nullable=False),
    pa.field("subject", pa.string(), nullable=False),
    pa.field("question", pa.string(), nullable=False),
    pa.field("answers", pa.list_(pa.string()), nullable=False),
]
POPULARITY_FIELD = pa.field("popularity", pa.float64())
SPLIT_FIELD = pa.field("split", pa.string(), nullable=False)

QA_SCHEMA = pa.schema([*QUESTION_FIELDS, POPULARITY_FIELD, SPLIT_FIELD])

MC_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("choices", pa.list_(pa.string()), nullable=False),
        pa.field("answer_index", pa.int64(), nullable=False),
        pa.field("explanation", pa.string()),
        pa.field("split", pa.string(), nullable=False),
    ]
)


class DataValidationError(ValueError):
    """A data file breaks the normalised schema; the message names the file and the row."""

    def __init__(self, source: str, row: int | str | None, problem: str):
        where = f"{source}" if row is None else f"{source}, row {row}"
        super().__init__(f"{where}: {problem}")
        self.source, self.row, self.problem = source, row, problem


# Longest field (a cell, a JSON string, or a list's strings together) a loader accepts. Real
# fields stay far below it (the longest MMLU question is under 5,000 characters); a longer one is
# a broken file (an unclosed CSV quote swallows the rest of the file into one cell), and no model
# would take it in its context anyway.
MAX_FIELD_CHARS = 100_000


def text_size(value: Any) -> int:
    """Characters of a field: a string's, or the strings of a list or object together (numbers: 0)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(text_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(text_size(v) for v in value)
    return 0


def check_field_sizes(
    record: Mapping[str, Any] | Sequence[Any], source: str, row: int | str | None, names: Sequence[str] | None = None
) -> None:
    """Fail on the first field longer than ``MAX_FIELD_CHARS``; a sequence's fields are named by ``names``."""
    if isinstance(record, Mapping):
        items = [(str(k), v) for k, v in record.items() if k != "_row"]
    else:
        items = [(names[i] if names and i < len(names) else f"cell {i + 1}", v) for i, v in enumerate(record)]
    for field, value in items:
        size = text_size(value)
        if size > MAX_FIELD_CHARS:
            raise DataValidationError(
                source,
                row,
                f"field '{field}' holds {size:,} characters, more than the "
                f"{MAX_FIELD_CHARS:,} allowed (MAX_FIELD_CHARS)",
            )


def text_value(value: Any, field: str, source: str, row: int | str | None) -> str:
    """A field that must be text; numbers are taken as their text, anything else (object, list, bool) fails."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        # pandas writes a missing value as NaN (and JSON readers accept it): not the text "nan"
        raise DataValidationError(
            source,
            row,
            f"field '{field}' is missing (NaN, as pandas writes an empty cell); give the text or drop the row",
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise DataValidationError(source, row, f"field '{field}' must be a string, got {type(value).__name__}")


def _require(record: Mapping[str, Any], fields: Iterable[str], source: str, row: int | str) -> None:
    missing = [f for f in fields if f not in record or record[f] is None]
    if missing:
        raise DataValidationError(source, row, f"missing field(s) {', '.join(missing)}")


def validate_qa_records(records: Sequence[Mapping[str, Any]], source: str) -> list[dict]:
    """Check and normalise QA records; returns clean dicts in QA_SCHEMA order.

    ``row`` in errors is the 0-based index of the record in ``records`` unless the record
    carries a ``_row`` key (loaders set it to the position in the original file).
    """
    seen: dict[str, int | str] = {}
    clean = []
    for index, record in enumerate(records):
        row = record.get("_row", index)
        _require(record, ("id", "relation", "subject", "question", "answers", "split"), source, row)
        check_field_sizes(record, source, row)
        answers = record["answers"]
        if isinstance(answers, str) or not isinstance(answers, Sequence):
            raise DataValidationError(source, row, f"'answers' must be a list of strings, got {type(answers).__name__}")
        answers = [text_value(a, f"answers[{i}]", source, row).strip() for i, a in enumerate(answers) if a is not None]
        answers = [a for a in answers if a]
        if not answers:
            raise DataValidationError(source, row, "empty answer list (field 'answers')")
        answers = list(dict.fromkeys(answers))  # de-duplicate aliases, keep order
        if record["split"] not in SPLITS:
            raise DataValidationError(source, row, f"split {record['split']!r} is not one of {SPLITS}")
        question, subject, relation = (
            text_value(record[f], f, source, row) for f in ("question", "subject", "relation")
        )
        if not question.strip():
            raise DataValidationError(source, row, "empty question")
        qid = text_value(record["id"], "id", source, row)
        if qid in seen:
            raise DataValidationError(source, row, f"duplicate id {qid!r} (first seen at row {seen[qid]})")
        seen[qid] = row
        popularity = record.get("popularity")
        clean.append(
            {
                "id": qid,
                "relation": relation,
                "subject": subject,
                "question": question.strip(),
                "answers": answers,
                "popularity": None if popularity is None else float(popularity),
                "split": record["split"],
            }
        )
    if not clean:
        raise DataValidationError(source, None, "no questions")
    return clean


def validate_mc_records(records: Sequence[Mapping[str, Any]], source: str) -> list[dict]:
    seen: dict[str, int | str] = {}
    clean = []
    for index, record in enumerate(records):
        row = record.get("_row", index)
        _require(record, ("id", "subject", "question", "choices", "answer_index", "split"), source, row)
        check_field_sizes(record, source, row)
        if isinstance(record["choices"], str) or not isinstance(record["choices"], Sequence):
            raise DataValidationError(source, row, f"'choices' must be a list, got {type(record['choices']).__name__}")
        choices = [text_value(c, f"choices[{i}]", source, row) for i, c in enumerate(record["choices"])]
        if len(choices) < 2:
            raise DataValidationError(source, row, f"needs at least 2 choices, got {len(choices)}")
        answer = record["answer_index"]
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(choices):
            raise DataValidationError(
                source, row, f"answer_index {answer!r} is not an index into {len(choices)} choices"
            )
        if record["split"] not in SPLITS:
            raise DataValidationError(source, row, f"split {record['split']!r} is not one of {SPLITS}")
        explanation = record.get("explanation")
        if explanation is not None:
            explanation = text_value(explanation, "explanation", source, row)
        qid = text_value(record["id"], "id", source, row)
        if qid in seen:
            raise DataValidationError(source, row, f"duplicate id {qid!r} (first seen at row {seen[qid]})")
        seen[qid] = row
        clean.append(
            {
                "id": qid,
                "subject": text_value(record["subject"], "subject", source, row),
                "question": text_value(record["question"], "question", source, row).strip(),
                "choices": choices,
                "answer_index": int(answer),
                "explanation": explanation,
                "split": record["split"],
            }
        )
    if not clean:
        raise DataValidationError(source, None, "no questions")
    return clean


def qa_table(records: Sequence[Mapping[str, Any]], source: str) -> pa.Table:
    clean = validate_qa_records(records, source)
    clean.sort(key=lambda r: r["id"])  # row order independent of loader order
    return pa.Table.from_pylist(clean, schema=QA_SCHEMA)


def mc_table(records: Sequence[Mapping[str, Any]], source: str) -> pa.Table:
    clean = validate_mc_records(records, source)
    clean.sort(key=lambda r: r["id"])
    return pa.Table.from_pylist(clean, schema=MC_SCHEMA)


def check_table_columns(table: pa.Table, schema: pa.Schema, source: str) -> pa.Table:
    """Fail naming the file when a stored table lacks a column; return it cast to ``schema``."""
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise DataValidationError(source, None, f"missing column(s) {', '.join(missing)}")
    return table.select(schema.names).cast(schema)
