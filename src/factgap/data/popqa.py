"""PopQA (Mallen et al. 2023) in its released column layout, into normalised QA records.

Released columns: ``id, subj, prop, obj, subj_id, prop_id, obj_id, s_aliases, o_aliases, s_uri,
o_uri, s_wiki_title, o_wiki_title, s_pop, o_pop, question, possible_answers``; ``possible_answers``
is a JSON *string* holding the answer aliases. The release has one split (HF ``test``, ~14k rows),
so train/dev/test are assigned per subject (``splits_by_subject.assign_split``): no subject is
shared between training and evaluation.

Errors name the file and the 0-based data row (header excluded; JSON lines: the record index).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from factgap.data.schema import DataValidationError, check_field_sizes, text_value, validate_qa_records
from factgap.data.splits_by_subject import assign_split
from factgap.data.textfiles import csv_rows, decode_utf8, first_undecodable, parse_json_rows

POPQA_COLUMNS = (
    "id",
    "subj",
    "prop",
    "obj",
    "subj_id",
    "prop_id",
    "obj_id",
    "s_aliases",
    "o_aliases",
    "s_uri",
    "o_uri",
    "s_wiki_title",
    "o_wiki_title",
    "s_pop",
    "o_pop",
    "question",
    "possible_answers",
)
REQUIRED_COLUMNS = ("id", "subj", "prop", "s_pop", "question", "possible_answers")


# ----------------------------------------------------------------------------------------------
# reading table-like files (shared with the multiple-choice loaders)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a TSV/CSV (with header), JSON-lines/JSON-list or parquet file, as dicts.

    CSV/TSV cells stay strings (no NA guessing: an answer "None" stays "None"). Text must be
    UTF-8; a row with fewer or more cells than the header fails naming it (a truncated file ends
    in one).
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
    if suffix not in (".tsv", ".csv", ".txt", ".jsonl", ".json", ".ndjson"):
        raise DataValidationError(
            source, None, f"unsupported file type {suffix!r} (use tsv, csv, jsonl, json or parquet)"
        )

    def parse(text: str) -> list[dict[str, Any]]:
        if suffix in (".jsonl", ".json", ".ndjson"):
            return parse_json_records(text, source)
        return parse_delimited(text, source, "," if suffix == ".csv" else "\t")

    return parse(decode_utf8(path.read_bytes(), source, locate=lambda text: first_undecodable(enumerate(parse(text)))))


def parse_delimited(text: str, source: str, delimiter: str) -> list[dict[str, Any]]:
    """Data rows of CSV/TSV text with a header row; blank lines are skipped (rows count from 0 after the header)."""
    records = csv_rows(text, delimiter)
    if not records:
        return []
    header, data = records[0], [cells for cells in records[1:] if cells]
    rows = []
    for index, cells in enumerate(data):
        if len(cells) != len(header):
            missing = f" (missing: {', '.join(header[len(cells) :])})" if len(cells) < len(header) else ""
            raise DataValidationError(source, index, f"{len(cells)} cells, header has {len(header)} columns{missing}")
        rows.append(dict(zip(header, cells)))
    return rows


def parse_json_records(text: str, source: str) -> list[dict[str, Any]]:
    """A JSON list of objects, or JSON lines (one object per non-blank line)."""
    rows = parse_json_rows(text, source)
    for index, item in enumerate(rows):
        if not isinstance(item, dict):
            raise DataValidationError(source, index, f"expected a JSON object, got {type(item).__name__}")
    return rows


# ----------------------------------------------------------------------------------------------
# pure parsing


def parse_possible_answers(value: Any, source: str, row: int) -> list[str]:
    """``possible_answers`` cell -> list of aliases (the release stores a JSON string)."""
    if isinstance(value, (list, tuple)):
        parsed = list(value)
    elif not isinstance(value, str):
        parsed = value  # a JSON file's object or number: fails below naming its type
    else:
        try:
            parsed = json.loads(value)
        except (TypeError, json.JSONDecodeError) as err:
            raise DataValidationError(source, row, f"possible_answers is not a JSON list: {value!r:.200}") from err
    if not isinstance(parsed, list):
        raise DataValidationError(source, row, f"possible_answers must be a JSON list, got {type(parsed).__name__}")
    answers = [text_value(v, f"possible_answers[{i}]", source, row) for i, v in enumerate(parsed) if v is not None]
    if not any(a.strip() for a in answers):
        raise DataValidationError(source, row, "empty answer list (field 'possible_answers')")
    return answers


def _popularity(value: Any, source: str, row: int) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise DataValidationError(source, row, f"s_pop {value!r} is not a number") from err


def parse_popqa_rows(
    rows: Iterable[Mapping[str, Any]], source: str, split_fractions: Mapping[str, float], seed: int
) -> list[dict]:
    """Released PopQA rows -> validated QA records with per-subject splits."""
    records = []
    for index, row in enumerate(rows):
        missing = [
            c
            for c in REQUIRED_COLUMNS
            if c not in row or row[c] is None or (c != "s_pop" and isinstance(row[c], str) and not row[c].strip())
        ]
        if missing:
            raise DataValidationError(source, index, f"missing field(s) {', '.join(missing)}")
        check_field_sizes(row, source, index)
        subject = text_value(row["subj"], "subj", source, index).strip()
        question = row["question"]
        if not isinstance(question, str):
            raise DataValidationError(
                source, index, f"field 'question' must be a string, got {type(question).__name__}"
            )
        records.append(
            {
                "_row": index,
                "id": f"popqa:{text_value(row['id'], 'id', source, index)}",
                "relation": text_value(row["prop"], "prop", source, index).strip(),
                "subject": subject,
                "question": question,
                "answers": parse_possible_answers(row["possible_answers"], source, index),
                "popularity": _popularity(row["s_pop"], source, index),
                "split": assign_split(subject, split_fractions, seed),
            }
        )
    return validate_qa_records(records, source)


def hub_rows(hf_id: str, split: str | None = None, config: str | None = None) -> Any:
    """``datasets.load_dataset`` of a Hub dataset: from its prefetched snapshot (``factgap.hub``: that
    commit, no network) when the job has one, else from the Hub, with a clear message when that fails."""
    from factgap.hub import snapshot_for

    source = snapshot_for(hf_id, "dataset")
    try:
        import datasets

        where = str(source) if source is not None else hf_id
        return (
            datasets.load_dataset(where, config, split=split) if config else datasets.load_dataset(where, split=split)
        )
    except Exception as err:  # no network, gated, renamed: all end the same way for the user
        if source is not None:
            raise RuntimeError(
                f"could not read the prefetched snapshot of {hf_id!r} at {source} ({type(err).__name__}: {err})"
            ) from err
        raise RuntimeError(
            f"could not load {hf_id!r} from the Hugging Face Hub ({type(err).__name__}: {err}). "
            f"Run `make prefetch CONFIG=<your config>` where the Hub is reachable, or download the released "
            f"data file(s) and set this dataset's `path` in the config."
        ) from err


def load_popqa_records(
    path: str | Path | None,
    split_fractions: Mapping[str, float],
    seed: int,
    hf_id: str = "akariasai/PopQA",
    relations: Sequence[str] = (),
) -> list[dict]:
    """QA records from a local PopQA file (TSV/CSV/JSONL/parquet) or, with ``path`` None, the Hub.

    ``relations``: keep only these (values of ``prop``); one that no row has fails, listing those there are.
    """
    if path is None:
        rows: Sequence[Mapping[str, Any]] = list(hub_rows(hf_id, split="test"))
        source = f"hf:{hf_id}[test]"
    else:
        rows = read_rows(path)
        source = str(path)
        if not rows:
            raise DataValidationError(source, None, "no rows: the file is empty or holds only a header")
        absent = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
        if absent:
            raise DataValidationError(source, None, f"missing column(s) {', '.join(absent)}")
    records = parse_popqa_rows(rows, source, split_fractions, seed)
    if not relations:
        return records
    found = {r["relation"] for r in records}
    unknown = [r for r in dict.fromkeys(relations) if r not in found]
    if unknown:
        raise DataValidationError(
            source,
            None,
            f"configured relation(s) {', '.join(map(repr, unknown))} have no "
            f"rows (column 'prop'; relations available: "
            f"{', '.join(sorted(found))})",
        )
    wanted = set(relations)
    return [r for r in records if r["relation"] in wanted]


def from_config(name: str, spec: Mapping[str, Any], seed: int) -> tuple[list[dict], str]:
    """QA loader ``popqa`` (factgap.data.loaders): a local file, or the Hub (hf_id) when path is null."""
    kwargs = {"hf_id": spec["hf_id"]} if spec.get("hf_id") else {}
    records = load_popqa_records(
        spec.get("path"),
        spec.get("split_fractions") or {},
        seed,
        relations=[*(spec.get("relations") or []), *(spec.get("ood_relations") or [])],
        **kwargs,
    )
    return records, str(spec.get("path") or spec.get("hf_id") or "akariasai/PopQA")
