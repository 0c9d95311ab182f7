"""PopQA (Mallen et al. 2023) in its released column layout, into normalised QA records.

Released columns: ``id, subj, prop, obj, subj_id, prop_id, obj_id, s_aliases, o_aliases, s_uri,
o_uri, s_wiki_title, o_wiki_title, s_pop, o_pop, question, possible_answers``; ``possible_answers``
is a JSON *string* holding the answer aliases. The release has one split (HF ``test``, ~14k rows),
so train/dev/test are assigned per subject (``splits_by_subject.assign_split``): no subject is
shared between training and evaluation.

Errors name the file and the 0-based data row (header excluded; JSON lines: the record index).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from factgap.data.schema import DataValidationError, validate_qa_records
from factgap.data.splits_by_subject import assign_split

POPQA_COLUMNS = ("id", "subj", "prop", "obj", "subj_id", "prop_id", "obj_id", "s_aliases", "o_aliases",
                 "s_uri", "o_uri", "s_wiki_title", "o_wiki_title", "s_pop", "o_pop", "question",
                 "possible_answers")
REQUIRED_COLUMNS = ("id", "subj", "prop", "s_pop", "question", "possible_answers")


# ----------------------------------------------------------------------------------------------
# reading table-like files (shared with the multiple-choice loaders)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a TSV/CSV (with header), JSON-lines/JSON-list or parquet file, as dicts.

    CSV/TSV cells stay strings (no NA guessing: an answer "None" stays "None").
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataValidationError(source, None, "no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except Exception as err:  # pyarrow raises several types for a broken file
            raise DataValidationError(source, None, f"not a readable parquet file: {err}") from err
    if suffix in (".tsv", ".csv", ".txt"):
        delimiter = "," if suffix == ".csv" else "\t"
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        rows = []
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            for index, row in enumerate(reader):
                if None in row:  # more cells than header columns
                    raise DataValidationError(source, index, f"{len(row) - 1 + len(row[None])} cells, header has "
                                                             f"{len(reader.fieldnames or [])} columns")
                rows.append(row)
        return rows
    if suffix in (".jsonl", ".json", ".ndjson"):
        return parse_json_records(path.read_text(encoding="utf-8"), source)
    raise DataValidationError(source, None, f"unsupported file type {suffix!r} (use tsv, csv, jsonl, json or parquet)")


def parse_json_records(text: str, source: str) -> list[dict[str, Any]]:
    """A JSON list of objects, or JSON lines (one object per non-blank line)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as err:
            raise DataValidationError(source, None, f"not valid JSON (line {err.lineno}): {err.msg}") from err
        items = list(enumerate(data))
    else:
        items = []
        for line in text.splitlines():
            if not line.strip():
                continue
            index = len(items)
            try:
                items.append((index, json.loads(line)))
            except json.JSONDecodeError as err:
                raise DataValidationError(source, index, f"not valid JSON: {err.msg}") from err
    rows = []
    for index, item in items:
        if not isinstance(item, dict):
            raise DataValidationError(source, index, f"expected a JSON object, got {type(item).__name__}")
        rows.append(item)
    return rows


# ----------------------------------------------------------------------------------------------
# pure parsing


def parse_possible_answers(value: Any, source: str, row: int) -> list[str]:
    """``possible_answers`` cell -> list of aliases (the release stores a JSON string)."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    try:
        parsed = json.loads(value)
    except (TypeError, json.JSONDecodeError) as err:
        raise DataValidationError(source, row, f"possible_answers is not a JSON list: {value!r}") from err
    if not isinstance(parsed, list):
        raise DataValidationError(source, row, f"possible_answers must be a JSON list, got {type(parsed).__name__}")
    return [str(v) for v in parsed]


def _popularity(value: Any, source: str, row: int) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise DataValidationError(source, row, f"s_pop {value!r} is not a number") from err


def parse_popqa_rows(rows: Iterable[Mapping[str, Any]], source: str, split_fractions: Mapping[str, float],
                     seed: int) -> list[dict]:
    """Released PopQA rows -> validated QA records with per-subject splits."""
    records = []
    for index, row in enumerate(rows):
        missing = [c for c in REQUIRED_COLUMNS if c not in row or row[c] is None
                   or (c != "s_pop" and isinstance(row[c], str) and not row[c].strip())]
        if missing:
            raise DataValidationError(source, index, f"missing field(s) {', '.join(missing)}")
        subject = str(row["subj"]).strip()
        records.append({
            "_row": index,
            "id": f"popqa:{row['id']}",
            "relation": str(row["prop"]).strip(),
            "subject": subject,
            "question": row["question"],
            "answers": parse_possible_answers(row["possible_answers"], source, index),
            "popularity": _popularity(row["s_pop"], source, index),
            "split": assign_split(subject, split_fractions, seed),
        })
    return validate_qa_records(records, source)


def hub_rows(hf_id: str, split: str | None = None, config: str | None = None) -> Any:
    """``datasets.load_dataset`` with a clear message when the Hub cannot be reached."""
    try:
        import datasets

        return datasets.load_dataset(hf_id, config, split=split) if config else \
            datasets.load_dataset(hf_id, split=split)
    except Exception as err:  # no network, gated, renamed: all end the same way for the user
        raise RuntimeError(
            f"could not load {hf_id!r} from the Hugging Face Hub ({type(err).__name__}: {err}). "
            f"Download the released data file(s) and set this dataset's `path` in the config."
        ) from err


def load_popqa_records(path: str | Path | None, split_fractions: Mapping[str, float], seed: int,
                       hf_id: str = "akariasai/PopQA") -> list[dict]:
    """QA records from a local PopQA file (TSV/CSV/JSONL/parquet) or, with ``path`` None, the Hub."""
    if path is None:
        rows: Sequence[Mapping[str, Any]] = list(hub_rows(hf_id, split="test"))
        source = f"hf:{hf_id}[test]"
    else:
        rows = read_rows(path)
        source = str(path)
        if rows:
            absent = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
            if absent:
                raise DataValidationError(source, None, f"missing column(s) {', '.join(absent)}")
    return parse_popqa_rows(rows, source, split_fractions, seed)
