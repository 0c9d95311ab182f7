"""EntityQuestions (Sciavolino et al. 2021) in its released layout, into normalised QA records.

The release (``dataset.zip`` of princeton-nlp/EntityQuestions, or that archive unpacked) holds
``dataset/{train,dev,test}/P<id>.{split}.json``: each file a JSON list of
``{"question": str, "answers": [str, ...]}``; the relation id is the file-name prefix. (The
repository's later ``.jsonl`` copies, one object per line, are read too; ``.json`` wins if both.)
The questions carry no subject field: the subject is recovered from the question with the
relation's template (``relation_query_templates.json`` of the same repository, ``[X]`` = subject).

Filters of Gekhman et al. 2024 (docs/study-s1.md), both on by default:
- questions with more than one gold answer are dropped (every split);
- train questions whose subject or answer appears in any kept test question (as its subject or
  one of its answers, compared case- and space-insensitively) are dropped, so no test entity is
  seen in training. The test questions of the OOD relations count too. Which entities of a train
  question are compared is ``overlap_on`` (default subject and answer, as specified; note that
  answers such as countries recur across questions, so this drops most train questions of
  relations with few distinct answers, e.g. P17 — ``overlap_on=("subject",)`` keeps them).

Errors name the file (``archive.zip:dataset/train/P17.train.json`` inside an archive) and the
0-based index of the question in that file's list.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from factgap.data.schema import SPLITS, DataValidationError, check_field_sizes, validate_qa_records
from factgap.data.textfiles import decode_utf8, first_undecodable, parse_json_rows

TEMPLATES_FILE = "relation_query_templates.json"

# The released relation_query_templates.json, for when only the dataset archive is at hand.
BUILTIN_TEMPLATES: dict[str, str] = {
    "P17": "Which country is [X] located in?",
    "P19": "Where was [X] born?",
    "P20": "Where did [X] die?",
    "P26": "Who is [X] married to?",
    "P30": "Which continent is [X] located?",
    "P36": "What is the capital of [X]?",
    "P40": "Who is [X]'s child?",
    "P50": "Who is the author of [X]?",
    "P69": "Where was [X] educated?",
    "P106": "What kind of work does [X] do?",
    "P112": "Who founded [X]?",
    "P127": "Who owns [X]?",
    "P131": "Where is [X] located?",
    "P136": "What type of music does [X] play?",
    "P159": "Where is the headquarter of [X]?",
    "P170": "Who was [X] created by?",
    "P175": "Who performed [X]?",
    "P176": "Which company is [X] produced by?",
    "P264": "What music label is [X] represented by?",
    "P276": "Where is [X] located?",
    "P407": "Which language was [X] written in?",
    "P413": "What position does [X] play?",
    "P495": "Which country was [X] created in?",
    "P740": "Where was [X] founded?",
    "P800": "What is [X] famous for?",
}

# dataset/<split>/<relation>.<split>.json, optionally under any prefix (the archive's or the folder's)
_MEMBER = re.compile(
    r"^(?:(?P<prefix>.*/))?(?P<split>train|dev|test)/"
    r"(?P<relation>[A-Za-z0-9_-]+)\.(?P=split)\.jsonl?$"
)


# ----------------------------------------------------------------------------------------------
# pure parts


def normalise_entity(text: str) -> str:
    """Key for comparing entity strings across questions (case and spacing do not matter)."""
    return " ".join(str(text).split()).casefold()


def subject_from_question(question: str, template: str | None) -> str:
    """The ``[X]`` part of ``question`` under ``template``; the question itself when it does not fit.

    EntityQuestions has no subject field, and the subject matters: splits, the overlap filter
    and popularity all work per subject.
    """
    question = question.strip()
    if not template or "[X]" not in template:
        return question
    prefix, _, suffix = template.strip().partition("[X]")
    pattern = "^" + _loose(prefix) + r"(?P<subject>.+)" + _loose(suffix) + "$"
    match = re.match(pattern, question, flags=re.DOTALL)
    if not match or not match.group("subject").strip():
        return question
    return match.group("subject").strip()


def _loose(text: str) -> str:
    """Regex for ``text`` where any run of spaces matches any run of spaces."""
    return r"\s+".join(re.escape(part) for part in text.split(" ")) if text else ""


def parse_relation_file(
    rows: Sequence[Any], relation: str, split: str, source: str, template: str | None
) -> list[dict]:
    """Released rows of one ``P*.{split}.json`` -> validated QA records (ids keep the file index).

    Structure errors (not an object, missing ``question``/``answers``, empty answer list) are
    raised here, before any filter, so a broken file never passes silently.
    """
    records = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataValidationError(
                source, index, f"expected an object with 'question' and 'answers', got {type(row).__name__}"
            )
        missing = [key for key in ("question", "answers") if row.get(key) is None]
        if missing:
            raise DataValidationError(source, index, f"missing field(s) {', '.join(missing)}")
        check_field_sizes(row, source, index)
        if not isinstance(row["question"], str):
            raise DataValidationError(
                source, index, f"field 'question' must be a string, got {type(row['question']).__name__}"
            )
        records.append(
            {
                "_row": index,
                "id": f"{relation}:{split}:{index}",
                "relation": relation,
                "subject": subject_from_question(row["question"], template),
                "question": row["question"],
                "answers": row["answers"],
                "popularity": None,
                "split": split,
            }
        )
    return validate_qa_records(records, source) if records else []


def apply_gekhman_filters(
    records: Iterable[Mapping[str, Any]],
    drop_multi_answer: bool = True,
    drop_train_overlapping_test: bool = True,
    overlap_on: Sequence[str] = ("subject", "answer"),
) -> list[dict]:
    """Drop multi-answer questions, then train questions sharing an entity with a kept test question.

    Test entities are the subjects and answers of kept test questions; ``overlap_on`` says which
    entities of a train question ("subject", "answer") are looked up among them.
    """
    unknown = set(overlap_on) - {"subject", "answer"}
    if unknown:
        raise ValueError(f"overlap_on takes 'subject' and/or 'answer', got {sorted(unknown)}")
    kept = [dict(r) for r in records if not (drop_multi_answer and len(r["answers"]) > 1)]
    if not drop_train_overlapping_test:
        return kept
    test_entities: set[str] = set()
    for record in kept:
        if record["split"] == "test":
            test_entities.add(normalise_entity(record["subject"]))
            test_entities.update(normalise_entity(a) for a in record["answers"])

    def overlaps(record: Mapping[str, Any]) -> bool:
        entities = ([record["subject"]] if "subject" in overlap_on else []) + (
            list(record["answers"]) if "answer" in overlap_on else []
        )
        return any(normalise_entity(e) in test_entities for e in entities)

    return [r for r in kept if r["split"] != "train" or not overlaps(r)]


def parse_templates(text: str, source: str) -> dict[str, str]:
    """``relation_query_templates.json`` -> {relation: template}."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataValidationError(source, None, f"not valid JSON (line {err.lineno}): {err.msg}") from err
    if not isinstance(data, Mapping):
        raise DataValidationError(source, None, "expected an object mapping relation ids to templates")
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        raise DataValidationError(source, bad[0], "template must be a string")
    return dict(data)


# ----------------------------------------------------------------------------------------------
# reading the release


class _Release:
    """The relation files of one release, from a zip or a folder: {(relation, split): (source, reader)}."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.files: dict[tuple[str, str], str] = {}
        self._zip: zipfile.ZipFile | None = None
        self.templates_text: tuple[str, str] | None = None  # (source, text)
        if self.path.is_file():
            if not zipfile.is_zipfile(self.path):
                raise DataValidationError(str(self.path), None, "not a zip archive nor a folder")
            self._zip = zipfile.ZipFile(self.path)
            names = self._zip.namelist()
            self._index(names, exclude_prefix_part="one-off")
            for name in names:
                if name.rsplit("/", 1)[-1] == TEMPLATES_FILE:
                    source = f"{self.path}:{name}"
                    self.templates_text = (source, decode_utf8(self._zip.read(name), source))
                    break
            if self.templates_text is None:
                self._templates_near([self.path.parent])
        elif self.path.is_dir():
            root = self.path / "dataset" if (self.path / "dataset").is_dir() else self.path
            names = [p.relative_to(root).as_posix() for p in root.glob("*/P*.json*")]
            self._root = root
            self._index(names, exclude_prefix_part="one-off")
            self._templates_near([self.path, root, root.parent])
        else:
            raise DataValidationError(str(self.path), None, "no such file or folder")

    def _index(self, names: Iterable[str], exclude_prefix_part: str) -> None:
        for name in sorted(names):  # "P17.train.json" sorts before "P17.train.jsonl": .json wins
            match = _MEMBER.match(name)
            if not match or exclude_prefix_part in (match.group("prefix") or "").split("/"):
                continue
            key = (match.group("relation"), match.group("split"))
            first = self.files.setdefault(key, name)
            if first != name and first.removesuffix(".json") != name.removesuffix(".jsonl"):
                # two copies of one relation file (e.g. two folders in the archive) give the same
                # question ids; which one is meant cannot be guessed
                raise DataValidationError(
                    str(self.path),
                    None,
                    f"relation {key[0]} has two {key[1]} files, {first} and {name}: duplicate question ids; keep one",
                )

    def _templates_near(self, folders: Iterable[Path]) -> None:
        for folder in folders:
            candidate = folder / TEMPLATES_FILE
            if candidate.is_file():
                self.templates_text = (str(candidate), decode_utf8(candidate.read_bytes(), str(candidate)))
                return

    def source(self, name: str) -> str:
        return f"{self.path}:{name}" if self._zip is not None else str(self._root / name)

    def read(self, name: str) -> str:
        raw = self._zip.read(name) if self._zip is not None else (self._root / name).read_bytes()
        source = self.source(name)
        return decode_utf8(raw, source, locate=lambda text: first_undecodable(enumerate(parse_json_rows(text, source))))

    def relations(self) -> list[str]:
        # P17 before P106; a file named otherwise (not a Wikidata id) after them
        return sorted(
            {relation for relation, _ in self.files}, key=lambda r: (0, int(r[1:]), r) if r[1:].isdigit() else (1, 0, r)
        )

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def release_question_counts(path: str | Path) -> dict[str, dict[str, int]]:
    """{relation: {split: questions}} of a release (zip or folder) before any filter, read as the loader
    reads it (.json before .jsonl, one-off/ left out)."""
    release = _Release(path)
    try:
        counts: dict[str, dict[str, int]] = {}
        for (relation, split), name in sorted(release.files.items()):
            counts.setdefault(relation, {})[split] = len(parse_json_rows(release.read(name), release.source(name)))
        return counts
    finally:
        release.close()


def load_entityquestions_records(
    path: str | Path,
    relations: Sequence[str],
    ood_relations: Sequence[str] = (),
    drop_multi_answer: bool = True,
    drop_train_overlapping_test: bool = True,
    templates: Mapping[str, str] | None = None,
    overlap_on: Sequence[str] = ("subject", "answer"),
) -> list[dict]:
    """QA records of the requested relations from the released ``dataset.zip`` or its unpacked folder.

    ``path``: the zip, the unpacked ``dataset/`` folder, or the folder that contains ``dataset/``.
    ``relations``: in-distribution relations (all three splits required); empty = every relation
    in the release except ``ood_relations``. ``ood_relations``: loaded with all their splits (test
    required); callers tell them apart by relation id. ``templates`` overrides the template file
    (found inside the zip, next to it, or in/around the folder; else ``BUILTIN_TEMPLATES``).
    ``overlap_on``: see ``apply_gekhman_filters``.
    """
    overlap = sorted(set(relations) & set(ood_relations))
    if overlap:
        raise ValueError(f"relation(s) {overlap} are both in-distribution and OOD")
    release = _Release(path)
    try:
        if templates is None:
            templates = (
                parse_templates(release.templates_text[1], release.templates_text[0])
                if release.templates_text
                else BUILTIN_TEMPLATES
            )
        id_relations = list(relations) or [r for r in release.relations() if r not in set(ood_relations)]
        if not id_relations and not ood_relations:
            raise DataValidationError(str(path), None, "no dataset/{train,dev,test}/P*.{split}.json files")
        wanted = [(r, SPLITS) for r in dict.fromkeys(id_relations)] + [
            (r, ("test",)) for r in dict.fromkeys(ood_relations)
        ]
        records: list[dict] = []
        for relation, required in wanted:
            missing = [s for s in required if (relation, s) not in release.files]
            if missing:
                available = ", ".join(release.relations()) or "none"
                raise DataValidationError(
                    str(path),
                    None,
                    f"configured relation {relation} has no "
                    f"{'/'.join(missing)} file(s) (relations available: "
                    f"{available})",
                )
            for split in SPLITS:
                name = release.files.get((relation, split))
                if name is None:
                    continue
                source = release.source(name)
                rows = parse_json_rows(release.read(name), source)
                if not rows and split in required:
                    # a configured relation without questions would just vanish from training or
                    # testing, and every table would silently describe fewer relations than asked
                    raise DataValidationError(
                        source,
                        None,
                        f"no questions in this file, but relation {relation} is configured and needs its {split} split",
                    )
                records.extend(parse_relation_file(rows, relation, split, source, templates.get(relation)))
    finally:
        release.close()
    kept = apply_gekhman_filters(records, drop_multi_answer, drop_train_overlapping_test, overlap_on)
    for relation, required in wanted:
        for split in required:
            if any(r["split"] == split and r["relation"] == relation for r in records) and not any(
                r["split"] == split and r["relation"] == relation for r in kept
            ):
                raise DataValidationError(
                    str(path),
                    None,
                    f"relation {relation}: the filters (multi-answer, "
                    f"train/test overlap on {', '.join(overlap_on)}) removed every {split} "
                    "question; drop the relation or relax the filters",
                )
    return kept


def from_config(name: str, spec: Mapping[str, Any], seed: int) -> tuple[list[dict], str]:
    """QA loader ``entityquestions`` (factgap.data.loaders): the released dataset.zip or its folder."""
    if not spec.get("path"):
        raise FileNotFoundError(
            f"dataset {name!r}: EntityQuestions needs datasets.{name}.path, the released dataset.zip "
            "(https://github.com/princeton-nlp/EntityQuestions) or its unpacked folder"
        )
    overlap = tuple(spec.get("entityquestions_overlap_on", ("subject", "answer")))
    records = load_entityquestions_records(
        spec["path"],
        list(spec.get("relations") or []),
        list(spec.get("ood_relations") or []),
        drop_train_overlapping_test=bool(overlap),
        overlap_on=overlap or ("subject",),
    )
    return records, str(spec["path"])
