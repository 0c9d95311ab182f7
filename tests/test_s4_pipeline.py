"""S4 stage shells' pure parts, the S4 study design, and the S4 reports on synthetic predictions."""

import copy

import numpy as np
import pyarrow as pa
import pytest

from factgap.io import write_parquet
from factgap.paths import ResultsLayout
from factgap.reports.common import publish_report
from factgap.reports.s4_common import role_of, self_fraction
from factgap.s4 import pipeline
from factgap.s4.pipeline import EVAL_SCHEMA, PROBE_SCHEMA
from factgap.studies import s4


@pytest.fixture
def cfg(default_config):
    return default_config


def test_design_sets_variants_and_subjects(cfg):
    assert s4.training_sets(cfg) == ["har", "inc", "self", "self-ratio-0.5", "inc-context"]
    assert [v.path for v in s4.variants(cfg)][:2] == ["base", "sft/har/convergence"]
    assert s4.id_subjects(cfg) == ["high_school_geography"]
    assert len(s4.ood_subjects(cfg)) == 20 and "high_school_geography" not in s4.ood_subjects(cfg)  # embedded cap
    assert s4.ood_subjects(cfg) == sorted(s4.ood_subjects(cfg))
    cfg["s4"]["mmlu"]["max_ood_subjects"] = None
    assert len(s4.ood_subjects(cfg)) == 56  # every other subject
    names = [r.name for r in s4.reports(cfg, ResultsLayout("r"))]
    assert names == ["s4_set_accuracy", "s4_consistency_ratio", "s4_rank_correlation", "s4_kl"]


def test_design_rejects_a_domain_without_subjects(cfg):
    bad = copy.deepcopy(cfg)
    bad["s4"]["mmlu"]["id_subjects"] = []
    with pytest.raises(ValueError, match="s4.mmlu.id_subjects"):
        s4.check_config(bad)
    bad["s4"]["domain"] = "medicine"
    s4.check_config(bad)
    assert "anatomy" in s4.id_subjects(bad)


def item(i, set_name, target, prediction=0):
    return {
        "id": f"q{i}",
        "set": set_name,
        "subject": "geo",
        "question": f"Q{i}?",
        "choices": ["a", "b", "c", "d"],
        "answer_index": 1,
        "prediction": prediction,
        "target_index": target,
        "explanation": None,
    }


def test_explanation_requests_per_set():
    items = [item(1, "HAR", 1), item(2, "INC", 1, 2), item(2, "SELF", 2, 2)]
    reqs = pipeline.explanation_requests(items, gold_source="dataset", evidence_source="model", contextualized=True)
    assert {(r["id"], r["kind"], r["how"]) for r in reqs} == {
        ("q1", "explanation", "dataset"),
        ("q2", "explanation", "dataset"),
        ("q2", "evidence", "model"),
        ("q2", "explanation", "model"),
    }
    none = pipeline.explanation_requests(items, "none", "dataset", contextualized=False)
    assert [(r["id"], r["how"]) for r in none] == [("q2", "model")]  # SELF always explains its own answer


def test_training_items_and_cap_sets():
    sets = {
        "HAR": [item(i, "HAR", 1) for i in range(6)],
        "INC": [item(i, "INC", 1, 2) for i in range(10, 16)],
        "SELF": [item(i, "SELF", 2, 2) for i in range(10, 16)],
    }
    assert pipeline.training_items("har", sets, 0) == sets["HAR"]
    assert pipeline.training_items("inc-context", sets, 0) == sets["INC"]
    mixed = pipeline.training_items("self-ratio-0.5", sets, 0)
    assert sum(r["set"] == "SELF" for r in mixed) == 3 and {r["id"] for r in mixed} == {r["id"] for r in sets["INC"]}
    with pytest.raises(ValueError):
        pipeline.training_items("everything", sets, 0)
    capped = pipeline.cap_sets(sets, 4, seed=0)
    assert {k: len(v) for k, v in capped.items()} == {"HAR": 4, "INC": 4, "SELF": 4}
    assert {r["id"] for r in capped["INC"]} == {r["id"] for r in capped["SELF"]}


def test_cut_words_and_histogram():
    assert pipeline.cut_words("One two. Three four five. Six", 5) == "One two."
    assert pipeline.cut_words("short text", 5) == "short text"
    hist = pipeline.max_prob_histogram([0.3, 0.55, 0.95, 1.0])
    assert sum(hist.values()) == 4 and hist["0.90-1.00"] == 2


def test_general_instructions_offline_and_jsonl(tmp_path):
    vital = pipeline.load_general_instructions({"source": "vital_articles", "max_words": 30})
    assert len(vital) > 5000 and all(r["instruction"].startswith("Tell me about ") for r in vital[:50])
    assert max(len(r["response"].split()) for r in vital) <= 30
    path = tmp_path / "alpaca.jsonl"
    path.write_text('{"instruction": "Add", "input": "2+2", "output": "4"}\n\n{"instruction": "x"}\n')
    with pytest.raises(ValueError, match="line 3"):
        pipeline.load_general_instructions({"source": "jsonl", "path": str(path)})


def test_roles_and_fractions():
    assert role_of("base", "convergence") == "base"
    assert role_of("har-convergence", "convergence") == "HAR"
    assert role_of("har-early_stop", "convergence") is None
    assert role_of("self-ratio-0.5-convergence", "convergence") == "SELF 0.5"
    assert [self_fraction(r) for r in ("INC", "SELF", "SELF 0.5", "HAR")] == [0.0, 1.0, 0.5, None]


def synthetic_predictions(tmp_path):
    """Predictions of base + 5 tuned variants on 3 test sets, and the base probe of the same items."""
    rng = np.random.default_rng(0)
    variants = [
        "base",
        "har-convergence",
        "inc-convergence",
        "self-convergence",
        "self-ratio-0.5-convergence",
        "inc-context-convergence",
    ]
    skill = {
        "base": 0.3,
        "har-convergence": 0.6,
        "inc-convergence": 0.35,
        "self-convergence": 0.55,
        "self-ratio-0.5-convergence": 0.45,
        "inc-context-convergence": 0.4,
    }
    ids = [f"q{i:03d}" for i in range(40)]
    base_probs = [list(rng.dirichlet([1, 1, 1, 1])) for _ in ids]
    paths, meta = [], []
    for v in variants:
        rows = []
        for testset in ("homo", "id", "ood"):
            for i, qid in enumerate(ids):
                keep = rng.random() < skill[v]
                probs = base_probs[i] if keep else list(rng.dirichlet([1, 1, 1, 1]))
                pred = int(np.argmax(probs))
                rows.append(
                    {
                        "id": f"{testset}:{qid}",
                        "testset": testset,
                        "subject": "geo",
                        "variant": v,
                        "answer_index": 0,
                        "probs": probs,
                        "ranks": [1, 2, 3, 4],
                        "prediction": pred,
                        "correct": pred == 0,
                    }
                )
        path = tmp_path / f"{v}.parquet"
        write_parquet(pa.Table.from_pylist(rows, schema=EVAL_SCHEMA), path)
        paths.append(str(path))
        meta.append({"model": "m", "dataset": "geo"})
    probe_rows = [
        {
            "id": f"{t}:{qid}",
            "subject": "geo",
            "question": "q",
            "choices": ["a", "b", "c", "d"],
            "answer_index": 0,
            "explanation": None,
            "split": "test",
            "popularity": None,
            "tier": None,
            "probs": base_probs[i],
            "ranks": [1, 2, 3, 4],
            "prediction": int(np.argmax(base_probs[i])),
            "max_prob": max(base_probs[i]),
            "confident": True,
            "correct": int(np.argmax(base_probs[i])) == 0,
        }
        for t in ("homo", "id", "ood")
        for i, qid in enumerate(ids)
    ]
    probe = tmp_path / "probe.parquet"
    write_parquet(pa.Table.from_pylist(probe_rows, schema=PROBE_SCHEMA), probe)
    return paths, meta, [str(probe)], [{"model": "m", "mcset": "geo"}]


@pytest.mark.parametrize(
    "report,options",
    [
        ("s4_set_accuracy", {"checkpoint": "convergence", "n_resamples": 200, "confidence": 0.95, "seed": 0}),
        (
            "s4_consistency_ratio",
            {"checkpoint": "convergence", "ratios": [0.5], "n_resamples": 200, "confidence": 0.95, "seed": 0},
        ),
        ("s4_rank_correlation", {"seed": 0}),
        ("s4_kl", {}),
    ],
)
def test_s4_reports_publish(tmp_path, report, options):
    paths, meta, probe_paths, probe_meta = synthetic_predictions(tmp_path)
    outputs = {k: tmp_path / f"{report}.{k}" for k in ("png", "csv", "md", "provenance")}
    table = publish_report(
        f"factgap.reports.{report}",
        {"predictions": paths, "probes": probe_paths},
        {"predictions": meta, "probes": probe_meta},
        options,
        {"seed": 0},
        [],
        [],
        outputs,
    )
    assert not table.empty and outputs["png"].read_bytes()[:4] == b"\x89PNG"
    if report == "s4_set_accuracy":
        gap = table[(table["row"] == "HAR - INC") & (table["testset"] == "homo")].iloc[0]
        har = table[(table["row"] == "HAR") & (table["testset"] == "homo")]["acc"].iloc[0]
        inc = table[(table["row"] == "INC") & (table["testset"] == "homo")]["acc"].iloc[0]
        assert gap["acc"] == pytest.approx(har - inc) and gap["acc_low"] <= gap["acc"] <= gap["acc_high"]
    if report == "s4_consistency_ratio":
        assert sorted(table["self_fraction"].unique()) == [0.0, 0.5, 1.0]
    if report == "s4_kl":
        base = table[(table["variant"] == "base")]
        assert (table["mean_kl"] >= 0).all() and len(base) == 3
    if report == "s4_rank_correlation":
        assert (table["n_models"] == 5).all() and table["partial_r"].between(-1, 1).all()


def test_option_scoring_names_pick_the_continuation_style(monkeypatch):
    import factgap.s4.probe as probe
    from factgap.s4 import pipeline

    seen = []

    def fake(model, tokenizer, prompts, choices, style, batch_size, add_special_tokens):
        seen.append(style)
        return [[0.25] * 4 for _ in prompts]

    monkeypatch.setattr(probe, "option_loglik_probs", fake)
    items = [{"choices": ["Chile", "Peru", "Chad", "Mali"]}]
    for scoring in ("option_loglik", "option_loglik_lettered"):
        pipeline.option_probabilities(None, None, ["Q"], items, scoring, 4, "Q", add_special_tokens=True)
    assert seen == ["text", "answer"]
    import pytest

    with pytest.raises(ValueError, match="unknown scoring"):
        pipeline.option_probabilities(None, None, ["Q"], items, "option_text", 4, "Q", add_special_tokens=True)
