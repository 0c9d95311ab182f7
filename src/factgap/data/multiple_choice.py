"""MMLU and MedMCQA in their released layouts, into normalised multiple-choice records (MC_SCHEMA).

MMLU, either layout:
- the original tar (``data/{dev,val,test}/<subject>_{split}.csv``; headerless rows
  ``question, A, B, C, D, answer letter``);
- the Hugging Face layout (``all/{test,validation,dev}-*.parquet`` or ``<subject>/...``, also as
  JSON lines) with columns ``question, subject, choices, answer`` (answer 0-3).
Splits: ``val``/``validation`` -> "dev", ``dev`` (the 5-shot exemplars) -> "train", ``test`` -> "test".
Ids: ``mmlu:<subject>:<split>:<k>`` with k the question's position among that subject's questions
of the file, which is the same in both layouts.

MedMCQA (JSON lines from the original release, or the HF parquet) with ``id, question, opa, opb,
opc, opd, cop, exp, subject_name``. ``cop`` is 1-4 in the original JSON and 0-3 in the HF layout:
the base is detected per file from the values (a 0 -> 0-based, a 4 -> 1-based; when neither
occurs, parquet is taken as HF 0-based and JSON as original 1-based). The released test split
has no labels, so the released validation (``dev.json`` / ``validation-*``) becomes "test" and
"dev" is held out of the released train by a hash of the question text.

Errors name the file and the 0-based row (CSV record; JSON-lines record; parquet row).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from factgap.data.popqa import hub_rows, read_rows
from factgap.data.schema import DataValidationError, check_field_sizes, text_value, validate_mc_records
from factgap.data.textfiles import csv_rows, decode_utf8, first_undecodable

LETTERS = "ABCD"
MMLU_SPLITS = {"test": "test", "val": "dev", "validation": "dev", "dev": "train"}
MEDMCQA_SPLITS = {"train": "train", "validation": "test", "dev": "test"}  # released test: no labels
MMLU_CSV_CELLS = ("question", "A", "B", "C", "D", "answer")  # the original tar's headerless columns
MEDMCQA_TEXT_FIELDS = ("id", "question", "opa", "opb", "opc", "opd", "subject_name")
_TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".ndjson")


# ----------------------------------------------------------------------------------------------
# pure parts


def split_token(path: str | Path) -> str | None:
    """The released split a file holds, from its name (``test-00000-of-00001.parquet``, ``dev.json``,
    ``abstract_algebra_val.csv``) or else its folder; None when neither says."""
    path = Path(path)
    stem = path.name.split(".")[0].lower()
    tokens = re.split(r"[-_]", stem)
    for candidate in (tokens[0], tokens[-1], path.parent.name.lower()):
        if candidate in MMLU_SPLITS or candidate in MEDMCQA_SPLITS or candidate == "test":
            return candidate
    return None


def _answer_index(value: Any, n_choices: int, source: str, row: int) -> int:
    """An MMLU answer (0-3, a digit string, or a letter A-D) -> 0-based index."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        index = value
    elif isinstance(value, str) and value.strip().upper() in LETTERS[:n_choices] and value.strip():
        index = LETTERS.index(value.strip().upper())
    elif isinstance(value, str) and value.strip().isdigit():
        index = int(value.strip())
    else:
        raise DataValidationError(source, row, f"answer {value!r} is neither an index nor a letter A-D")
    if not 0 <= index < n_choices:
        raise DataValidationError(source, row, f"answer {value!r} is not an index into {n_choices} choices")
    return index


def build_mmlu_csv_records(rows: Sequence[Sequence[str]], subject: str, split: str, source: str) -> list[dict]:
    """Headerless original-tar rows (question, A, B, C, D, letter) of one subject and released split
    -> records carrying ``_row`` (not yet validated)."""
    target = MMLU_SPLITS[split]
    records = []
    for index, row in enumerate(rows):
        check_field_sizes(row, source, index, names=MMLU_CSV_CELLS)
        if len(row) != len(MMLU_CSV_CELLS):
            absent = MMLU_CSV_CELLS[len(row) :]
            missing = f": missing field(s) {', '.join(absent)}" if absent else ""
            raise DataValidationError(
                source, index, f"expected 6 cells ({', '.join(MMLU_CSV_CELLS)}), got {len(row)}{missing}"
            )
        if not row[0].strip():
            raise DataValidationError(source, index, "empty question")
        records.append(
            {
                "_row": index,
                "id": f"mmlu:{subject}:{target}:{index}",
                "subject": subject,
                "question": row[0],
                "choices": list(row[1:5]),
                "answer_index": _answer_index(row[5], 4, source, index),
                "explanation": None,
                "split": target,
            }
        )
    return records


def build_mmlu_hf_records(rows: Iterable[Mapping[str, Any]], split: str, source: str) -> list[dict]:
    """HF-layout rows (question, subject, choices, answer) of one released split -> records with ``_row``."""
    target = MMLU_SPLITS[split]
    position: dict[str, int] = {}
    records = []
    for index, row in enumerate(rows):
        missing = [c for c in ("question", "subject", "choices", "answer") if row.get(c) is None]
        if missing:
            raise DataValidationError(source, index, f"missing field(s) {', '.join(missing)}")
        check_field_sizes(row, source, index)
        choices = row["choices"]
        if isinstance(choices, str) or not isinstance(choices, Sequence):
            raise DataValidationError(source, index, f"'choices' must be a list, got {type(choices).__name__}")
        choices = [text_value(c, f"choices[{i}]", source, index) for i, c in enumerate(choices)]
        if not text_value(row["question"], "question", source, index).strip():
            raise DataValidationError(source, index, "empty question")
        subject = text_value(row["subject"], "subject", source, index)
        k = position.get(subject, 0)
        position[subject] = k + 1
        records.append(
            {
                "_row": index,
                "id": f"mmlu:{subject}:{target}:{k}",
                "subject": subject,
                "question": row["question"],
                "choices": list(choices),
                "answer_index": _answer_index(row["answer"], len(choices), source, index),
                "explanation": None,
                "split": target,
            }
        )
    return records


def cop_base(values: Sequence[int], one_based_if_unsure: bool, source: str) -> int:
    """0 or 1: whether this file's ``cop`` counts options from 0 (HF) or 1 (original release)."""
    present = set(values)
    if 0 in present and 4 in present:
        raise DataValidationError(source, None, "cop holds both 0 and 4: cannot tell 0-3 from 1-4")
    if 0 in present:
        return 0
    if 4 in present:
        return 1
    return 1 if one_based_if_unsure else 0


def in_heldout_dev(question: str, fraction: float) -> bool:
    """Deterministic ~``fraction`` of questions, by a hash of the question text (no seed: stable ids)."""
    digest = hashlib.sha256(" ".join(question.split()).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def build_medmcqa_records(
    rows: Sequence[Mapping[str, Any]],
    split: str,
    source: str,
    one_based_if_unsure: bool,
    dev_fraction: float = 0.1,
    single_choice_only: bool = False,
    require_explanation: bool = False,
) -> list[dict]:
    """Released MedMCQA rows of the released ``train`` or ``validation``/``dev`` split -> records with ``_row``."""
    target = MEDMCQA_SPLITS[split]
    cops = []
    for index, row in enumerate(rows):
        missing = [
            c
            for c in ("id", "question", "opa", "opb", "opc", "opd", "cop", "subject_name")
            if row.get(c) is None
            or (isinstance(row.get(c), str) and not row[c].strip() and c in ("id", "question", "subject_name"))
        ]
        if missing:
            raise DataValidationError(source, index, f"missing field(s) {', '.join(missing)}")
        check_field_sizes(row, source, index)
        for field in MEDMCQA_TEXT_FIELDS:
            text_value(row[field], field, source, index)
        if row.get("exp") is not None:
            text_value(row["exp"], "exp", source, index)
        cop = row["cop"]
        if isinstance(cop, bool) or isinstance(cop, float) and not cop.is_integer():
            raise DataValidationError(source, index, f"cop {cop!r} is not an integer")
        try:
            cops.append(int(cop))
        except (TypeError, ValueError) as err:
            raise DataValidationError(source, index, f"cop {cop!r} is not an integer") from err
    base = cop_base(cops, one_based_if_unsure, source) if cops else 0
    records = []
    for index, (row, cop) in enumerate(zip(rows, cops, strict=True)):
        if single_choice_only and str(row.get("choice_type", "single")) != "single":
            continue
        explanation = row.get("exp")
        explanation = str(explanation).strip() if explanation is not None and str(explanation).strip() else None
        if require_explanation and explanation is None:
            continue
        answer = cop - base
        if not 0 <= answer < 4:
            raise DataValidationError(source, index, f"cop {cop} is outside {base}-{base + 3}")
        row_split = target
        if target == "train" and in_heldout_dev(str(row["question"]), dev_fraction):
            row_split = "dev"
        records.append(
            {
                "_row": index,
                "id": f"medmcqa:{row['id']}",
                "subject": str(row["subject_name"]),
                "question": row["question"],
                "choices": [row["opa"], row["opb"], row["opc"], row["opd"]],
                "answer_index": answer,
                "explanation": explanation,
                "split": row_split,
            }
        )
    return records


def parse_mmlu_csv_rows(rows: Sequence[Sequence[str]], subject: str, split: str, source: str) -> list[dict]:
    """Validated MC records of one original-tar CSV."""
    return _validated(build_mmlu_csv_records(rows, subject, split, source), source)


def parse_mmlu_hf_rows(rows: Iterable[Mapping[str, Any]], split: str, source: str) -> list[dict]:
    """Validated MC records of one HF-layout split."""
    return _validated(build_mmlu_hf_records(rows, split, source), source)


def parse_medmcqa_rows(
    rows: Sequence[Mapping[str, Any]], split: str, source: str, one_based_if_unsure: bool, **options: Any
) -> list[dict]:
    """Validated MC records of one released MedMCQA split (options: see ``build_medmcqa_records``)."""
    return _validated(build_medmcqa_records(rows, split, source, one_based_if_unsure, **options), source)


def _validated(raw: Sequence[Mapping[str, Any]], source: str) -> list[dict]:
    return validate_mc_records(raw, source) if raw else []


def merge_files(parts: Iterable[tuple[str, Sequence[Mapping[str, Any]]]]) -> list[dict]:
    """Validate per-file records (carrying ``_row``) and concatenate them; a question id seen in two
    files fails naming the second file and its row."""
    seen: dict[str, str] = {}
    merged = []
    for source, raw in parts:
        for record in raw:
            qid = str(record.get("id"))
            if qid in seen and seen[qid] != source:
                raise DataValidationError(source, record.get("_row"), f"duplicate id {qid!r} (also in {seen[qid]})")
            seen.setdefault(qid, source)
        merged.extend(_validated(raw, source))
    return merged


def _keep_subjects(records: list[dict], subjects: Sequence[str] | None, where: str) -> list[dict]:
    if not subjects:
        return records
    found = {r["subject"] for r in records}
    absent = [s for s in subjects if s not in found]
    if absent:
        raise DataValidationError(
            where, None, f"subject(s) {', '.join(absent)} not found (available: {', '.join(sorted(found)) or 'none'})"
        )
    wanted = set(subjects)
    return [r for r in records if r["subject"] in wanted]


# ----------------------------------------------------------------------------------------------
# MMLU


def _existing_path(path: str | Path) -> tuple[Path, str]:
    root = Path(path)
    if not root.exists():
        raise DataValidationError(str(root), None, "no such file or folder")
    return root, str(root)


def _read_csv(path: Path) -> list[list[str]]:
    source = str(path)
    return csv_rows(
        decode_utf8(
            path.read_bytes(),
            source,
            locate=lambda text: first_undecodable(enumerate(csv_rows(text)), names=MMLU_CSV_CELLS),
        )
    )


def _require_rows(rows: Sequence[Any], source: str) -> Sequence[Any]:
    # an empty file of a subject or split would silently drop it from every table
    if not rows:
        raise DataValidationError(source, None, "no questions in this file (empty file)")
    return rows


def _mmlu_csv_files(root: Path) -> list[tuple[Path, str, str]]:
    """(file, subject, released split) of the original-tar layout under ``root``."""
    found = []
    for file in sorted(root.rglob("*.csv")):
        split = file.parent.name
        if split in ("dev", "val", "test") and file.name.endswith(f"_{split}.csv"):
            found.append((file, file.name[: -len(f"_{split}.csv")], split))
    return found


def _table_files(root: Path, exclude: Sequence[str] = ()) -> list[Path]:
    files = [f for f in sorted(root.rglob("*")) if f.is_file() and f.suffix.lower() in _TABLE_SUFFIXES]
    return [f for f in files if not any(x in part for part in f.relative_to(root).parts for x in exclude)]


def load_mmlu_records(
    path: str | Path | None, subjects: Sequence[str] | None = None, hf_id: str = "cais/mmlu", config: str = "all"
) -> list[dict]:
    """MC records from a local MMLU release (original CSV tar layout or HF parquet/JSONL), or the Hub.

    ``subjects``: keep only these (e.g. ``high_school_biology``); a subject not in the data fails.
    HF layout folders: ``<path>/<config>/`` is read when it exists (a full snapshot has both
    ``all/`` and per-subject folders, which would double every question); ``auxiliary_train`` is skipped.
    """
    parts: list[tuple[str, list[dict]]] = []
    if path is None:
        data = hub_rows(hf_id, config=config)
        for split_name in data:
            if split_name in MMLU_SPLITS:
                source = f"hf:{hf_id}/{config}[{split_name}]"
                records = build_mmlu_hf_records(list(data[split_name]), split_name, source)
                parts.append((source, records))
        where = f"hf:{hf_id}/{config}"
    else:
        root, where = _existing_path(path)
        csv_files = _mmlu_csv_files(root) if root.is_dir() else []
        if csv_files:
            for file, subject, split in csv_files:
                records = build_mmlu_csv_records(_require_rows(_read_csv(file), str(file)), subject, split, str(file))
                parts.append((str(file), records))
        else:
            if root.is_dir():
                base = root / config if (root / config).is_dir() else root
                files = _table_files(base, exclude=("auxiliary_train",))
            else:
                files = [root]
            for file in files:
                split = split_token(file)
                if split not in MMLU_SPLITS:
                    continue
                records = build_mmlu_hf_records(_require_rows(read_rows(file), str(file)), split, str(file))
                parts.append((str(file), records))
        if not parts:
            raise DataValidationError(
                where,
                None,
                "no MMLU files ({dev,val,test}/<subject>_<split>.csv, or {test,validation,dev}-*.parquet/.jsonl)",
            )
    return _keep_subjects(merge_files(parts), subjects, where)


# ----------------------------------------------------------------------------------------------
# MedMCQA


def load_medmcqa_records(
    path: str | Path | None,
    subjects: Sequence[str] | None = None,
    hf_id: str = "openlifescienceai/medmcqa",
    dev_fraction: float = 0.1,
    single_choice_only: bool = False,
    require_explanation: bool = False,
) -> list[dict]:
    """MC records from a local MedMCQA release (folder or file; JSON lines or parquet), or the Hub.

    Released train -> "train" plus a held-out "dev" (``dev_fraction`` of questions by text hash);
    released validation/dev -> "test"; released test (no labels) is ignored. S4 (Ren et al.)
    keeps questions with one correct answer and an explanation: ``single_choice_only`` and
    ``require_explanation``.
    """
    options = dict(
        dev_fraction=dev_fraction, single_choice_only=single_choice_only, require_explanation=require_explanation
    )
    parts: list[tuple[str, list[dict]]] = []
    if path is None:
        data = hub_rows(hf_id)
        for split_name in data:
            if split_name in MEDMCQA_SPLITS:
                source = f"hf:{hf_id}[{split_name}]"
                records = build_medmcqa_records(
                    list(data[split_name]), split_name, source, one_based_if_unsure=False, **options
                )
                parts.append((source, records))
        where = f"hf:{hf_id}"
    else:
        root, where = _existing_path(path)
        files = _table_files(root) if root.is_dir() else [root]
        for file in files:
            split = split_token(file)
            if split not in MEDMCQA_SPLITS:
                continue  # the released test split has no answers
            records = build_medmcqa_records(
                _require_rows(read_rows(file), str(file)),
                split,
                str(file),
                one_based_if_unsure=file.suffix.lower() != ".parquet",
                **options,
            )
            parts.append((str(file), records))
        if not parts:
            raise DataValidationError(
                where, None, "no MedMCQA train or validation file (train.json/dev.json or train-*/validation-*.parquet)"
            )
    return _keep_subjects(merge_files(parts), subjects, where)


def mmlu_from_config(spec: Mapping[str, Any], seed: int, mmlu_subjects: Sequence[str] = ()) -> tuple[list[dict], str]:
    """Multiple-choice loader ``mmlu`` (factgap.data.loaders): the released CSV folder, or cais/mmlu."""
    records = load_mmlu_records(spec.get("path"), list(mmlu_subjects or spec.get("subjects") or []) or None)
    return records, str(spec.get("path") or "cais/mmlu")


def medmcqa_from_config(
    spec: Mapping[str, Any], seed: int, mmlu_subjects: Sequence[str] = ()
) -> tuple[list[dict], str]:
    """Multiple-choice loader ``medmcqa`` (factgap.data.loaders): the released JSON lines, or the Hub.

    Splits as released: train -> training pool (less a held-out demo pool, "dev"); validation -> the
    HOMO test (the released test has no answers). Ren et al.'s filters are on unless the config turns
    them off: one correct answer, an explanation."""
    records = load_medmcqa_records(
        spec.get("path"),
        list(spec.get("subjects") or []) or None,
        single_choice_only=spec.get("single_choice_only", True),
        require_explanation=spec.get("require_explanation", True),
    )
    return records, str(spec.get("path") or "openlifescienceai/medmcqa")
