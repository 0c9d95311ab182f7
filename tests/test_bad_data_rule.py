"""A bad data file fails its rule naming the file and the row, and leaves no output behind."""

import json

from conftest import run_snakemake, write_yaml


def _eq_folder(root, bad_row):
    for split in ("train", "dev", "test"):
        (root / "dataset" / split).mkdir(parents=True)
        rows = [{"question": f"What is the capital of Country{i}?", "answers": [f"City{i}"]} for i in range(5)]
        if split == "train":
            rows.insert(3, bad_row)
        (root / "dataset" / split / f"P36.{split}.json").write_text(json.dumps(rows))


def _run(tmp_path, bad_row):
    _eq_folder(tmp_path / "eq", bad_row)
    cfg = write_yaml(
        tmp_path / "c.yaml",
        {
            "models": {"m": {"source": "hf", "path": "unused/model"}},
            "datasets": {"eq": {"loader": "entityquestions", "path": str(tmp_path / "eq"), "relations": ["P36"]}},
        },
    )
    proc = run_snakemake(
        "results/data/eq/questions.parquet",
        "--cores",
        "1",
        "--configfile",
        str(cfg),
        cwd=tmp_path,
        check=False,
        timeout=300,
    )
    log = (tmp_path / "results" / "logs" / "prepare_dataset" / "eq.log").read_text()
    return proc, log


def test_empty_answer_list_fails_the_rule_naming_file_and_row(tmp_path):
    proc, log = _run(tmp_path, {"question": "What is the capital of Nowhere?", "answers": []})
    assert proc.returncode != 0
    assert "P36.train.json" in log and "row 3" in log and "empty answer" in log
    assert not (tmp_path / "results" / "data" / "eq" / "questions.parquet").exists()


def test_missing_field_fails_the_rule_naming_file_and_row(tmp_path):
    proc, log = _run(tmp_path, {"question": "What is the capital of Nowhere?"})
    assert proc.returncode != 0
    assert "P36.train.json" in log and "row 3" in log and "answers" in log
    assert not (tmp_path / "results" / "data" / "eq" / "questions.parquet").exists()
