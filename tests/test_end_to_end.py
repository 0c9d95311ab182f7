"""A tiny run of the whole DAG (S1 and S2) on the real embedded model (~6 min on 2 cores)."""

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO, run_snakemake

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]

TINY = REPO / "tests" / "configs" / "tiny.yaml"
M, D = "smollm2-135m", "geonames"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, smollm2_gguf_dir):
    workdir = tmp_path_factory.mktemp("tiny-run")
    run_snakemake("--cores", "2", "--configfile", str(TINY), cwd=workdir, timeout=3600)
    return workdir


def _read(workdir, rel):
    return pq.read_table(Path(workdir) / "results" / rel)


def test_stage_outputs_have_their_schemas(tiny_run):
    from factgap.data.schema import QA_SCHEMA
    from factgap.evaluate import EXEMPLAR_SCHEMA, PREDICTION_SCHEMA
    from factgap.probe import PROBE_SCHEMA
    from factgap.splits import TEST_SCHEMA, TRAIN_SCHEMA
    from factgap.train import HISTORY_SCHEMA, SUMMARY_SCHEMA

    assert _read(tiny_run, f"data/{D}/questions.parquet").schema.equals(QA_SCHEMA)
    assert _read(tiny_run, f"probe/{M}/{D}.parquet").schema.equals(PROBE_SCHEMA)
    assert _read(tiny_run, f"splits/{M}/{D}/train-known.parquet").schema.equals(TRAIN_SCHEMA)
    assert _read(tiny_run, f"splits/{M}/{D}/test.parquet").schema.equals(TEST_SCHEMA)
    assert _read(tiny_run, f"train/{M}/{D}/sft/known/history.parquet").schema.equals(HISTORY_SCHEMA)
    assert _read(tiny_run, f"train/{M}/{D}/sft/unknown/summary.parquet").schema.equals(SUMMARY_SCHEMA)
    assert _read(tiny_run, f"exemplars/{M}/{D}.parquet").schema.equals(EXEMPLAR_SCHEMA)
    for variant in ("base", "sft/known/early_stop", "sft/unknown/convergence"):
        for prompt in ("zero_shot", "four_shot_cot"):
            assert _read(tiny_run, f"eval/{M}/{D}/test/{variant}/{prompt}.parquet").schema.equals(PREDICTION_SCHEMA)


def test_probe_categories_follow_the_probabilities(tiny_run):
    from factgap.probe import slick_category

    probe = _read(tiny_run, f"probe/{M}/{D}.parquet").to_pylist()
    assert probe and {r["split"] for r in probe} == {"train", "test"}
    for row in probe:
        assert row["category"] == slick_category(row["p_greedy"], row["p_sample"])
        assert len(row["greedy_answers"]) == 2 and [len(s) for s in row["sampled_answers"]] == [2, 2]


def test_training_sets_are_balanced_and_disjoint_from_test(tiny_run):
    from collections import Counter

    known = _read(tiny_run, f"splits/{M}/{D}/train-known.parquet").to_pylist()
    unknown = _read(tiny_run, f"splits/{M}/{D}/train-unknown.parquet").to_pylist()
    test = _read(tiny_run, f"splits/{M}/{D}/test.parquet").to_pylist()
    assert known and Counter(r["relation"] for r in known) == Counter(r["relation"] for r in unknown)
    assert {r["knowledge"] for r in known} == {"known"} and {r["category"] for r in unknown} == {"Unknown"}
    train_subjects = {r["subject"] for r in known + unknown}
    assert train_subjects.isdisjoint({r["subject"] for r in test})


def test_training_records_every_epoch_and_exports_adapters(tiny_run):
    summary = _read(tiny_run, f"train/{M}/{D}/sft/known/summary.parquet").to_pylist()
    assert [r["epoch"] for r in summary] == [1, 2]
    assert sum(r["is_early_stop"] for r in summary) == 1 and summary[-1]["is_convergence"]
    best = max(summary, key=lambda r: (r["dev_em"], -r["epoch"]))
    assert best["is_early_stop"]
    for stage in ("early_stop", "convergence"):
        adapter = tiny_run / "results" / "train" / M / D / "sft" / "known" / stage
        assert (adapter / "adapter_model.safetensors").stat().st_size > 0


def test_predictions_cover_the_test_set(tiny_run):
    test_ids = sorted(_read(tiny_run, f"splits/{M}/{D}/test.parquet").column("id").to_pylist())
    preds = _read(tiny_run, f"eval/{M}/{D}/test/sft/known/convergence/four_shot_cot.parquet").to_pylist()
    assert sorted(p["id"] for p in preds) == test_ids
    assert all(p["correct"] in (True, False) for p in preds)


def test_tables_figures_and_provenance(tiny_run):
    import json

    import pandas as pd

    for name in ("s2_factuality_gap", "s2_icl_gains"):
        png = tiny_run / "results" / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        table = pd.read_csv(tiny_run / "results" / "tables" / f"{name}.csv")
        assert len(table) > 0
        md = (tiny_run / "results" / "tables" / f"{name}.md").read_text()
        assert md.startswith("# ") and "Provenance" in md
        prov = json.loads((tiny_run / "results" / "tables" / f"{name}.provenance.json").read_text())
        assert prov["config"]["seed"] == 0 and prov["config"]["probe"]["n_prompts"] == 2
        assert prov["packages"]["torch"] and prov["packages"]["transformers"]
        assert any(k.startswith("model:") and v["sha256"] for k, v in prov["inputs"].items())
        assert any(k.startswith("data:") and v["sha256"] for k, v in prov["inputs"].items())
    gap = pd.read_csv(tiny_run / "results" / "tables" / "s2_factuality_gap.csv")
    assert set(gap["stage"]) == {"early_stop", "convergence"}
    assert ((gap["known_em_low"] <= gap["known_em"]) & (gap["known_em"] <= gap["known_em_high"])).all()
    gains = pd.read_csv(tiny_run / "results" / "tables" / "s2_icl_gains.csv")
    assert set(gains["variant"]) == {
        "base",
        "known-early_stop",
        "known-convergence",
        "unknown-early_stop",
        "unknown-convergence",
    }


def test_s1_and_ood_outputs(tiny_run):
    import json

    import pandas as pd

    figures = tiny_run / "results" / "figures"
    for name in (
        "s1_training_dynamics",
        "s1_category_accuracy",
        "s1_linear_fit",
        "s1_significance",
        "s1_idk",
        "s2_ood_gap",
        "s2_popularity",
    ):
        assert (figures / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    idk_train = _read(tiny_run, f"splits/{M}/{D}/train-idk-mix-unknown-50.parquet").to_pylist()
    assert {r["target"] for r in idk_train if r["knowledge"] == "unknown"} == {"I don't know"}
    mix = _read(tiny_run, f"splits/{M}/{D}/train-mix-unknown-50.parquet").to_pylist()
    assert sorted(r["id"] for r in mix) == sorted(r["id"] for r in idk_train)
    ood = _read(tiny_run, f"splits/{M}/{D}/ood.parquet").to_pylist()
    assert ood and {r["relation"] for r in ood} == {"P78"}
    assert _read(tiny_run, f"eval/{M}/{D}/ood/sft/known/early_stop/zero_shot.parquet").num_rows == len(ood)
    sim = json.loads((tiny_run / "results" / "analysis" / M / D / "ood_similarity.json").read_text())
    assert -1 <= sim["centroid_cosine"] <= 1 and sim["n_ood"] == len(ood)
    history = _read(tiny_run, f"train/{M}/{D}/sft/mix-unknown-50/history.parquet").to_pandas()
    assert set(history["eval_set"]) == {"dev", "train"} and set(history["epoch"]) == {1, 2}
    significance = pd.read_csv(tiny_run / "results" / "tables" / "s1_significance.csv")
    assert ((significance["p"] >= 0) & (significance["p"] <= 1)).all()


def test_one_job_per_trained_variant_writes_what_one_job_per_prompt_writes(tiny_run, tmp_path, request):
    """A trained variant S2 compares across prompts is evaluated in one job for every prompt mode (one model
    load); evaluate_model's function, run per mode with its own load, gives the same rows."""
    import torch
    import yaml
    from snakemake.utils import validate

    from factgap.evaluate import evaluate_file
    from factgap.naming import parse_variant_path

    config = yaml.safe_load(TINY.read_text())
    validate(config, str(REPO / "config" / "schema.yaml"), set_default=True)
    evaluation, variant = config["evaluation"], "sft/known/early_stop"
    log = (tiny_run / f"results/logs/evaluate_model_prompt_modes/{M}/{D}/{variant}.log").read_text()
    assert all(f"{mode}: exact match" in log for mode in evaluation["prompts"]), log
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the job ran: float sums depend on the thread count
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    root = tiny_run / "results"
    for mode in evaluation["prompts"]:
        out = tmp_path / f"{mode}.parquet"
        evaluate_file(
            root / f"models/{M}/model.json",
            root / f"train/{M}/{D}/{variant}",
            root / f"splits/{M}/{D}/test.parquet",
            root / f"exemplars/{M}/{D}.parquet",
            mode,
            parse_variant_path(variant).label,
            evaluation["max_new_tokens"],
            evaluation["cot_max_new_tokens"],
            evaluation["batch_size"],
            out,
            config["backend"],
        )
        assert pq.read_table(out).equals(_read(tiny_run, f"eval/{M}/{D}/test/{variant}/{mode}.parquet")), mode


def test_rerun_has_nothing_to_do(tiny_run):
    proc = run_snakemake("-n", "--configfile", str(TINY), cwd=tiny_run)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_editing_one_figure_module_reruns_only_that_figure(tiny_run):
    # Snakemake reruns a job when an input is newer *and* its content changed: edit, do not just touch
    module = REPO / "src" / "factgap" / "reports" / "s2_icl_gains.py"
    before, original = module.stat(), module.read_bytes()
    try:
        module.write_bytes(original + b"\n# an edit to the plotting code\n")
        proc = run_snakemake("results/figures/s2_icl_gains.png", "-n", "--configfile", str(TINY), cwd=tiny_run)
        out = proc.stdout + proc.stderr
        assert "plot_s2_icl_gains" in out
        for other in ("plot_s2_factuality_gap", "evaluate_model", "train_lora", "probe_knowledge"):
            assert other not in out
        proc = run_snakemake("results/figures/s2_factuality_gap.png", "-n", "--configfile", str(TINY), cwd=tiny_run)
        assert "Nothing to be done" in proc.stdout + proc.stderr
    finally:
        module.write_bytes(original)
        os.utime(module, (before.st_atime, before.st_mtime))


def test_same_seed_gives_byte_identical_data_probe_and_splits(tiny_run, tmp_path):
    shutil.copytree(tiny_run / "results" / "models", tmp_path / "results" / "models")
    target = f"results/splits/{M}/{D}/train-unknown.parquet"
    run_snakemake(
        target,
        f"results/splits/{M}/{D}/train-known.parquet",
        f"results/splits/{M}/{D}/test.parquet",
        "--cores",
        "2",
        "--configfile",
        str(TINY),
        cwd=tmp_path,
    )
    for rel in (
        f"data/{D}/questions.parquet",
        f"probe/{M}/{D}.parquet",
        f"splits/{M}/{D}/train-unknown.parquet",
        f"splits/{M}/{D}/train-known.parquet",
        f"splits/{M}/{D}/test.parquet",
    ):
        assert (tmp_path / "results" / rel).read_bytes() == (tiny_run / "results" / rel).read_bytes(), rel


def test_report_opens_in_chromium_with_every_figure(tiny_run):
    from report_browser import check_report

    figures = sorted(p.stem for p in (tiny_run / "results" / "figures").glob("s[12]_*.png"))
    assert len(figures) == 9
    seen = check_report(tiny_run, TINY, figures, "report-s1-s2.png")
    assert {"S1: fitting Unknown examples", "S2: Known vs Unknown fine-tuning"} <= set(seen["categories"])


@pytest.mark.extended
def test_jobs_killed_at_random_points_rerun_to_the_same_outputs(tiny_run, tmp_path):
    from fault_injection import kill_and_rerun

    heavy = {
        "probe_knowledge": "probe_knowledge.py",
        "train_lora": "train_lora.py",
        "evaluate_model": "evaluate_model.py",
        "evaluate_model_prompt_modes": "evaluate_model_prompt_modes.py",
    }
    killed, left, differ = kill_and_rerun(
        tiny_run, tmp_path, ["--cores", "2", "--configfile", str(TINY)], heavy, seed=0
    )
    print("killed after (s):", killed, "temporaries left by the kills:", left, "differing:", differ)
    assert set(killed) == set(heavy)
    assert differ == []
