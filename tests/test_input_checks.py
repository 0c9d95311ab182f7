"""Bad inputs nobody here wrote, each named before any model job, with nothing written: NaN answers, a
knowledge source with an untitled document or a '#'/'?' in its folder name, a results_dir that is a file,
empty or missing model files."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from conftest import edited_default_config, run_snakemake
from s3_fixtures import write_factscore_layout

from factgap.data.entityquestions import parse_relation_file
from factgap.data.schema import DataValidationError
from factgap.factscore.entities import load_paper_entities
from factgap.models import check_model_files


def test_a_nan_answer_is_missing_not_the_text_nan(tmp_path):
    # as pandas writes a missing answer, and as Python's json module reads the literal NaN
    rows = json.loads(
        '[{"question": "Where is Paris located?", "answers": ["France"]},'
        ' {"question": "Where is Oslo located?", "answers": [NaN]}]'
    )
    with pytest.raises(DataValidationError, match=r"P131\.test\.json.*row 1.*answers\[0\].*missing.*NaN"):
        parse_relation_file(rows, "P131", "test", "P131.test.json", "Where is [X] located?")


def test_knowledge_source_in_a_folder_with_url_characters(tmp_path):
    folder = tmp_path / "kb #1 ?x=2 %41"
    entities, db = write_factscore_layout(folder)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    people = load_paper_entities(entities, db)
    assert len(people) >= 9 and all(p["knowledge"] for p in people)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no other database created anywhere


def test_untitled_document_is_named(tmp_path):
    entities, db = write_factscore_layout(tmp_path / "fs")
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO documents VALUES (NULL, 'a document that belongs to nobody')")
    conn.commit()
    conn.close()
    with pytest.raises(DataValidationError, match=r"knowledge\.db.*without a title"):
        load_paper_entities(entities, db)


def test_results_dir_that_is_a_file_fails_naming_the_key(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    config = edited_default_config(tmp_path / "c.yaml")
    proc = run_snakemake("-n", "--configfile", str(config), cwd=tmp_path, check=False, timeout=120)
    assert proc.returncode != 0 and "config key 'results_dir'" in proc.stdout + proc.stderr
    assert (tmp_path / "results").read_text() == "not a folder"


def _gguf(path, content: bytes):
    path.write_bytes(content)
    return {"m": {"source": "gguf", "path": str(path)}}


def test_model_files_checked(tmp_path):
    with pytest.raises(ValueError, match=r"'models\.m\.path'.*empty \(0 bytes\)"):
        check_model_files(_gguf(tmp_path / "empty.gguf", b""))
    with pytest.raises(ValueError, match=r"'models\.m\.path'.*not a GGUF file"):
        check_model_files(_gguf(tmp_path / "html.gguf", b"<html>rate limited</html>"))
    check_model_files(_gguf(tmp_path / "ok.gguf", b"GGUF\x03\x00\x00\x00"))
    with pytest.raises(FileNotFoundError, match=r"'helper_models\.j\.path'.*not a folder"):
        check_model_files(
            {"j": {"source": "hf", "path": str(tmp_path / "no" / "such" / "model")}}, section="helper_models"
        )
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no weight file"):
        check_model_files({"m": {"source": "hf", "path": str(folder)}})
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match=r"\['model\.safetensors'\].*empty \(0 bytes\)"):
        check_model_files({"m": {"source": "hf", "path": str(folder)}})
    check_model_files({"m": {"source": "hf", "path": "meta-llama/Llama-3.1-8B"}})  # Hub ids: prefetch checks


def test_an_empty_gguf_stops_the_run_before_any_job(tmp_path):
    (tmp_path / "empty.gguf").write_bytes(b"")
    config = edited_default_config(
        tmp_path / "c.yaml",
        lambda cfg: cfg.update(models={"tiny": {"source": "gguf", "path": str(tmp_path / "empty.gguf")}}),
    )
    proc = run_snakemake("--cores", "1", "--configfile", str(config), cwd=tmp_path, check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "'models.tiny.path'" in out and "empty (0 bytes)" in out
    assert not (tmp_path / "results").exists()


def test_text_outputs_are_synced_before_the_rename(tmp_path, monkeypatch):
    from factgap import io

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    io.write_text("x", tmp_path / "a.txt")
    import pyarrow as pa

    io.write_parquet(pa.table({"x": [1]}), tmp_path / "a.parquet")
    assert len(synced) == 2


def test_the_files_of_a_local_model_folder_are_inputs_of_its_preparation(tmp_path):
    """New weights in a local model folder rerun the model's jobs (a rehearsal once kept answers of old
    stand-in weights)."""
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    config = edited_default_config(
        tmp_path / "c.yaml", lambda cfg: cfg.update(models={"my-model-3.1": {"source": "hf", "path": str(folder)}})
    )
    proc = run_snakemake(
        "-n", "results/models/my-model-3.1/model.json", "--configfile", str(config), cwd=tmp_path, timeout=300
    )
    inputs = next(line for line in proc.stdout.splitlines() if line.strip().startswith("input:"))
    assert str(folder / "config.json") in inputs and str(folder / "model.safetensors") in inputs


def test_dotted_keys_find_names_that_hold_dots(tmp_path):
    from factgap.configuration import check_local_data_paths, config_value

    cfg = {"models": {"llama-3.1-8b": {"path": "a"}, "llama-3": {"1-8b": {"path": "b"}}}, "s4": {"mmlu": None}}
    assert config_value(cfg, "models.llama-3.1-8b.path") == "a"  # the whole name first
    assert config_value(cfg, "models.llama-3.1-8b.revision") is None
    assert config_value(cfg, "s4.mmlu.path") is None and config_value(cfg, "nothing.here") is None
    missing = str(tmp_path / "no-such-file.tsv")
    with pytest.raises(ValueError, match=r"'datasets\.pop\.qa\.path'"):  # a dataset named "pop.qa" is checked too
        check_local_data_paths({"datasets": {"pop.qa": {"path": missing}}, "s4": {}})
