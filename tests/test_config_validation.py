"""Bad configs stop before any job runs, with a message naming the key."""

import copy

import pytest
import yaml
from conftest import REPO, run_snakemake, write_yaml

BASE = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _with(path, value):
    cfg = copy.deepcopy(BASE)
    node = cfg
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return cfg


@pytest.mark.parametrize(
    "path,value,expected",
    [
        ("probe.n_prompt", 3, "n_prompt"),  # unknown key (typo)
        ("surprise", 1, "surprise"),  # unknown top-level key
        ("probe.n_prompts", "ten", "n_prompts"),  # wrong type
        ("probe.temperature", -0.5, "temperature"),  # out of range
        ("training.lora.rank", 8, "rank"),  # unknown nested key
        ("evaluation.prompts", ["eight_shot"], "prompts"),  # bad enum value
        ("splits.unknown_categories", ["MaybeKnown"], "splits.known_categories"),  # semantic: overlap
        ("evaluation.rationale_model", "gpt-4o", "evaluation.rationale_model"),  # semantic: unknown model
        ("s3.judge_model", "llama-70b", "s3.judge_model"),  # S3: unknown judge
        ("s3.verifiers", ["oracle"], "verifiers"),  # S3: bad enum value
        ("s3.people.source", "factscore", "s3.people.entities_path"),  # S3: layout without its files
        ("s3.generation.prompt", "Tell me about them.", "prompt"),  # S3: no {entity} slot
        ("s3.preference.methods", ["ppo"], "methods"),  # S3: unknown method
        ("s3.preference.per_method.dpo.gamma", 0.1, "gamma"),  # S3: unknown per-method key
        ("s3.evaluation.qa.dataset", "triviaqa", "s3.evaluation.qa.dataset"),  # S3: QA set not in datasets
        ("s3.evaluation.ood_topics.name", "bios", "s3.evaluation.ood_topics.name"),  # S3: topics named as the people
        ("s3.preference.atomic.r_low", 1.0, "s3.preference.atomic.r_low"),  # S3: empty potentially-known band
        ("s3.evaluation.ood_topics.source", "fava", "s3.evaluation.ood_topics.path"),  # S3: FAVA without its file
        ("s3.evaluation.ood_topics.fields", {"text": "body"}, "text"),  # S3: unknown FAVA field key
        (
            "s3.evaluation.ood_qa_sets",
            [{"name": "fpqa", "format": "fpqa", "path": "f.jsonl", "judge": "gpt"}],
            "judge",
        ),  # S3: unknown key of a QA set
        (
            "s3.evaluation.ood_qa_sets",
            [{"name": "tqa", "format": "triviaqa", "path": "t.jsonl"}],
            "triviaqa",
        ),  # S3: unknown QA set format
        ("s3.evaluation.ood_qa_sets", [{"name": "kuqa", "format": "kuqa"}], "path"),  # S3: QA set without its file
        (
            "s3.evaluation.ood_qa_sets",
            [{"name": "kuqa", "format": "kuqa", "path": "k.jsonl", "prompt": "Answer:"}],
            "prompt",
        ),  # S3: no {question} slot
        (
            "s3.evaluation.ood_qa_sets",
            [{"name": "a", "format": "kuqa", "path": "k.jsonl"}, {"name": "a", "format": "fpqa", "path": "f.jsonl"}],
            "s3.evaluation.ood_qa_sets[1].name",
        ),  # S3: two sets of one name
        ("s2.wikibios.share", 0.7, "share"),  # S2 on bios: Known and Unknown would overlap
        ("s3.people.name", "geonames", "s3.people.name"),  # S2 on bios: people named as a QA dataset
        ("seeds", [0, 1, 1], "seeds"),  # seed sweep: a seed twice
        ("models_dir", "my models", "models_dir"),  # a space in a path
    ],
)
def test_bad_config_is_rejected_naming_the_key(tmp_path, path, value, expected):
    cfg = write_yaml(tmp_path / "bad.yaml", _with(path, value))
    proc = run_snakemake("-n", "--configfile", str(cfg), cwd=tmp_path, check=False, timeout=120)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert expected in message, message[-2000:]
    assert not (tmp_path / "results").exists()  # nothing ran


def test_default_config_is_valid_and_fills_defaults(tmp_path):
    proc = run_snakemake("-n", "--quiet", "rules", cwd=tmp_path, timeout=120)
    assert "probe_knowledge" in proc.stdout + proc.stderr


def test_every_schema_property_has_a_description_and_optional_ones_a_default():
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            where = f"{path}.{key}".lstrip(".")
            assert "description" in sub, f"{where} has no description"
            if key not in node.get("required", []) and where not in ("models", "datasets"):
                assert "default" in sub, f"{where} has no default"
            walk(sub, where)
            if isinstance(sub.get("additionalProperties"), dict):
                walk(sub["additionalProperties"], where + ".<name>")

    walk(schema, "")
    for name, definition in schema.get("definitions", {}).items():
        walk(definition, f"definitions.{name}")
