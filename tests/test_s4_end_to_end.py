"""Study S4 end to end on the real embedded model at a tiny scale (tests/configs/tiny_s4.yaml)."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, run_snakemake

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_s4_run")]

CONFIG = REPO / "tests" / "configs" / "tiny_s4.yaml"
M, D = "smollm2-135m", "geo-mc"
SETS = ("har", "inc", "self", "self-ratio-0.5", "inc-context")
REPORTS = ("s4_set_accuracy", "s4_consistency_ratio", "s4_rank_correlation", "s4_kl")


@pytest.fixture(scope="module")
def s4_run(tmp_path_factory, smollm2_gguf_dir):
    workdir = tmp_path_factory.mktemp("tiny-s4-run")
    run_snakemake("s4", "--cores", "2", "--configfile", str(CONFIG), cwd=workdir, timeout=3600)
    return workdir / "results"


def _rows(results, rel):
    return pq.read_table(Path(results) / rel).to_pylist()


def test_outputs_have_their_schemas(s4_run):
    from factgap.s4.pipeline import (
        EVAL_SCHEMA,
        ITEM_SCHEMA,
        PROBE_SCHEMA,
        SET_ITEM_SCHEMA,
        TEXT_SCHEMA,
        TRAIN_RECORD_SCHEMA,
    )

    assert pq.read_schema(s4_run / f"mc/{D}/items.parquet").equals(ITEM_SCHEMA)
    assert pq.read_schema(s4_run / f"s4/{M}/{D}/probe.parquet").equals(PROBE_SCHEMA)
    assert pq.read_schema(s4_run / f"s4/{M}/mmlu/probe.parquet").equals(PROBE_SCHEMA)
    assert pq.read_schema(s4_run / f"s4/{M}/{D}/sets.parquet").equals(SET_ITEM_SCHEMA)
    assert pq.read_schema(s4_run / f"s4/{M}/{D}/texts.parquet").equals(TEXT_SCHEMA)
    for name in SETS:
        assert pq.read_schema(s4_run / f"s4/{M}/{D}/train-{name}.parquet").equals(TRAIN_RECORD_SCHEMA)
        assert pq.read_schema(s4_run / f"s4/{M}/{D}/eval/sft/{name}/convergence/zero_shot.parquet").equals(EVAL_SCHEMA)


def test_sets_follow_the_probe(s4_run):
    probe = {r["id"]: r for r in _rows(s4_run, f"s4/{M}/{D}/probe.parquet")}
    sets = _rows(s4_run, f"s4/{M}/{D}/sets.parquet")
    by_set = {s: [r for r in sets if r["set"] == s] for s in ("HAR", "INC", "SELF")}
    assert len(by_set["HAR"]) == len(by_set["INC"]) == len(by_set["SELF"]) > 0
    assert {r["id"] for r in by_set["INC"]} == {r["id"] for r in by_set["SELF"]}
    for r in sets:
        p = probe[r["id"]]
        assert p["split"] == "train" and p["confident"] and p["max_prob"] > 0.5
        assert p["correct"] == (r["set"] == "HAR")
        assert r["target_index"] == (p["prediction"] if r["set"] == "SELF" else p["answer_index"])
    summary = json.loads((s4_run / f"s4/{M}/{D}/sets.json").read_text())
    assert summary["set_size"] == len(by_set["INC"]) and sum(summary["max_prob_histogram"].values()) > 0


def test_training_sets_and_evaluation(s4_run):
    inc = _rows(s4_run, f"s4/{M}/{D}/train-inc.parquet")
    context = _rows(s4_run, f"s4/{M}/{D}/train-inc-context.parquet")
    domain = [r for r in inc if r["set"] != "general"]
    assert domain and len(inc) == 2 * len(domain)  # mixed 1:1 with general instructions
    assert all("Given the context" in r["instruction"] for r in context if r["set"] != "general")
    assert all("Explanation: " in r["response"] for r in domain)
    test_ids = {r["id"] for r in _rows(s4_run, f"mc/{D}/items.parquet") if r["split"] == "test"}
    base = _rows(s4_run, f"s4/{M}/{D}/eval/base/zero_shot.parquet")
    assert {r["id"] for r in base if r["testset"] == "homo"} == test_ids
    assert {r["testset"] for r in base} == {"homo", "id", "ood"}
    assert all(abs(sum(r["probs"]) - 1) < 1e-6 for r in base)


def test_report_opens_in_chromium_with_every_figure(s4_run):
    from report_browser import check_report

    seen = check_report(s4_run.parent, CONFIG, list(REPORTS), "report-s4.png")
    assert "S4: learning or self-aligning" in seen["categories"]


def test_reports_and_rerun(s4_run):
    for name in REPORTS:
        assert (s4_run / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
        assert (s4_run / "tables" / f"{name}.csv").stat().st_size > 0
    proc = run_snakemake("s4", "-n", "--configfile", str(CONFIG), cwd=s4_run.parent)
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.extended
def test_jobs_killed_at_random_points_rerun_to_the_same_outputs(s4_run, tmp_path):
    from fault_injection import kill_and_rerun

    heavy = {rule: f"{rule}.py" for rule in ("probe_mc", "write_s4_texts", "train_s4_lora", "evaluate_mc")}
    killed, left, differ = kill_and_rerun(
        s4_run.parent, tmp_path, ["s4", "--cores", "2", "--configfile", str(CONFIG)], heavy, seed=0
    )
    print("killed after (s):", killed, "temporaries left by the kills:", left, "differing:", differ)
    assert set(killed) == set(heavy)
    assert differ == []
