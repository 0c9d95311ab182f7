"""Local files of APEFT's out-of-domain tests (Yuan et al. 2024): FAVA's open-ended prompts with
reference knowledge (scored by FActScore, as the topics are), FPQA's false-premise questions and KUQA's
known / unknown questions (scored by accuracy, ``factgap.preference.ood_qa``).

The released files were not available here, so their layouts are UNVERIFIED: a file is a JSON list of
objects or JSON lines, and every field name is configurable (the defaults below are guesses). Every
row is checked; a bad one raises ``DataValidationError`` naming the file, the row (JSON list: element
index; JSON lines: 0-based line number) and the field. Pure apart from reading the file.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from factgap.data.schema import DataValidationError, check_field_sizes, text_value
from factgap.data.textfiles import decode_utf8, first_undecodable, parse_json_lines, parse_json_rows
from factgap.text import normalize_answer

# UNVERIFIED field names: the config's ``fields`` override each of them.
FAVA_FIELDS = {"id": "id", "prompt": "prompt", "title": "title", "knowledge": "knowledge"}
FAVA_TIER = "fava"
# Per format: the default field names, and the two kinds of question, the one judged by cues first
# (the label field true: a false premise / an unknown answer), the one judged by its gold answers second.
QA_FORMATS: dict[str, dict[str, Any]] = {
    "fpqa": {
        "fields": {"id": "id", "question": "question", "label": "false_premise", "answers": "answers"},
        "kinds": ("false_premise", "true_premise"),
    },
    "kuqa": {
        "fields": {"id": "id", "question": "question", "label": "unknown", "answers": "answer"},
        "kinds": ("unknown", "known"),
    },
}
CUE_KINDS = frozenset(spec["kinds"][0] for spec in QA_FORMATS.values())


def read_json_rows(path: str | Path) -> list[tuple[int, Any]]:
    """(row, value) of a JSON list (row = element index) or JSON lines file (row = 0-based line number).
    A missing, empty, non-UTF-8 or broken file fails naming it (and the row where it breaks)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataValidationError(source, None, "no such file")

    def parse(text: str) -> list[tuple[int, Any]]:
        if text.lstrip().startswith("["):
            return list(enumerate(parse_json_rows(text, source)))
        return parse_json_lines(text, source, row_is_line=True)

    text = decode_utf8(path.read_bytes(), source, locate=lambda t: first_undecodable(parse(t)))
    rows = parse(text)
    if not rows:
        raise DataValidationError(source, None, "no rows in this file (empty file)")
    return rows


def resolved_fields(defaults: Mapping[str, str | None], fields: Mapping[str, str | None] | None) -> dict:
    """The default field names with the configured ones over them (a null entry keeps the default,
    except for ``id``, where null means the row's position is its id)."""
    out = dict(defaults)
    for key, value in (fields or {}).items():
        if key not in defaults:
            raise ValueError(f"unknown field key {key!r}; known: {', '.join(defaults)}")
        if value is not None or key == "id":
            out[key] = value
    return out


def _object(value: Any, source: str, row: int) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DataValidationError(source, row, f"expected a JSON object, got {type(value).__name__}")
    check_field_sizes(value, source, row)
    return value


def _text(record: Mapping[str, Any], field: str, source: str, row: int) -> str:
    """A required, non-empty text field (numbers are taken as their text)."""
    if record.get(field) is None:
        raise DataValidationError(source, row, f"missing field '{field}'")
    text = text_value(record[field], field, source, row).strip()
    if not text:
        raise DataValidationError(source, row, f"empty field '{field}'")
    return text


def _texts(value: Any, field: str, source: str, row: int) -> list[str]:
    """A string or a list of strings -> the non-empty ones, stripped."""
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, (list, tuple)):
        values = [text_value(v, f"{field}[{i}]", source, row) for i, v in enumerate(value)]
    else:
        raise DataValidationError(
            source, row, f"field '{field}' must be a string or a list of strings, got {type(value).__name__}"
        )
    return [v.strip() for v in values if v.strip()]


def _row_id(record: Mapping[str, Any], field: str | None, row: int, seen: dict[str, int], source: str) -> str:
    qid = str(row) if field is None else _text(record, field, source, row)
    if qid in seen:
        raise DataValidationError(
            source, row, f"duplicate id {qid!r} in field '{field}' (first seen at row {seen[qid]})"
        )
    seen[qid] = row
    return qid


def load_fava(path: str | Path, fields: Mapping[str, str | None] | None = None) -> list[dict]:
    """FAVA rows: ``{id, prompt, title, knowledge}`` (knowledge a list of passages).

    Every row needs its prompt, a title (the subject the rule extractor and the retriever look for)
    and reference knowledge (a string or a list of strings): the verifier checks answers against it.
    """
    source = str(path)
    names = resolved_fields(FAVA_FIELDS, fields)
    seen: dict[str, int] = {}
    out = []
    for row, value in read_json_rows(path):
        record = _object(value, source, row)
        qid = _row_id(record, names["id"], row, seen, source)
        prompt = _text(record, names["prompt"], source, row)
        title = _text(record, names["title"], source, row)
        field = names["knowledge"]
        if record.get(field) is None:
            raise DataValidationError(
                source, row, f"missing field '{field}' (the reference knowledge the verifier checks the answer against)"
            )
        knowledge = _texts(record[field], field, source, row)
        if not knowledge:
            raise DataValidationError(
                source,
                row,
                f"no reference knowledge text in field '{field}' (the verifier checks the answer against it)",
            )
        out.append({"id": qid, "prompt": prompt, "title": title, "knowledge": knowledge})
    return out


def _label(record: Mapping[str, Any], field: str, source: str, row: int) -> bool:
    value = record.get(field)
    if value is None:
        raise DataValidationError(source, row, f"missing field '{field}'")
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise DataValidationError(
        source, row, f"field '{field}' must be true/false (or 1/0), got {type(value).__name__} {value!r}"
    )


def load_ood_qa(path: str | Path, fmt: str, fields: Mapping[str, str | None] | None = None) -> list[dict]:
    """FPQA / KUQA questions: ``{id, kind, question, answers}``.

    The label field (true / false, or 1 / 0) gives the kind: true = the format's first kind (a false
    premise, an unknown answer), judged by cues; false = its second, which needs gold answers (a string
    or a list of strings, at least one that is not empty once normalised). Answers of the first kind
    are kept when present (they are not used to judge it).
    """
    if fmt not in QA_FORMATS:
        raise ValueError(f"unknown QA format {fmt!r}; one of {', '.join(QA_FORMATS)}")
    source = str(path)
    names = resolved_fields(QA_FORMATS[fmt]["fields"], fields)
    cue_kind, gold_kind = QA_FORMATS[fmt]["kinds"]
    seen: dict[str, int] = {}
    out = []
    for row, value in read_json_rows(path):
        record = _object(value, source, row)
        qid = _row_id(record, names["id"], row, seen, source)
        question = _text(record, names["question"], source, row)
        judged_by_cues = _label(record, names["label"], source, row)
        field = names["answers"]
        answers = [] if record.get(field) is None else _texts(record[field], field, source, row)
        answers = [a for a in dict.fromkeys(answers) if normalize_answer(a)]
        if not judged_by_cues and not answers:
            raise DataValidationError(
                source,
                row,
                f"no gold answer in field '{field}' (field '{names['label']}' "
                f"is false: a {gold_kind.replace('_', ' ')} question is judged "
                "by its answers)",
            )
        out.append(
            {"id": qid, "kind": cue_kind if judged_by_cues else gold_kind, "question": question, "answers": answers}
        )
    return out


def select_items(items: Sequence[Mapping[str, Any]], max_items: int | None, seed: int, label: str) -> list[dict]:
    """At most ``max_items`` items, the kinds taking one each in turn (each kind shuffled by its own seeded
    generator), so a small draw keeps both kinds; sorted by id. None = all."""
    if max_items is not None and max_items < 1:
        raise ValueError(f"max_items must be >= 1 or None, got {max_items}")
    pool = sorted((dict(i) for i in items), key=lambda i: i["id"])
    if max_items is None or max_items >= len(pool):
        return pool
    by_kind: dict[str, list[dict]] = {}
    for item in pool:
        by_kind.setdefault(item["kind"], []).append(item)
    for kind, members in by_kind.items():
        random.Random(f"{seed}:{label}:{kind}").shuffle(members)
    chosen: list[dict] = []
    while len(chosen) < max_items:
        for kind in sorted(by_kind):
            if by_kind[kind] and len(chosen) < max_items:
                chosen.append(by_kind[kind].pop(0))
    return sorted(chosen, key=lambda i: i["id"])
