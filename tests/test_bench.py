"""Benchmark helpers (pure) and one tiny real run of every case on the tiny model."""

import pytest
from conftest import load_script

from factgap import bench


def test_median_run_returns_the_median_and_the_last_result():
    calls = []
    seconds, times, result = bench.median_run(lambda: calls.append(1) or len(calls), 3)
    assert result == 3 and len(times) == 3 and seconds == sorted(times)[1]
    with pytest.raises(ValueError):
        bench.median_run(lambda: None, 0)


def test_flops_and_mfu():
    assert bench.forward_flops(135_000_000, 10) == 2.7e9
    assert bench.mfu(2.7e9, 1.0, 27e9) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        bench.mfu(1.0, 0.0, 1.0)


def test_distinct_prefix_tokens_counts_a_shared_block_once():
    assert bench.distinct_prefix_tokens([[1, 2, 3], [1, 2, 4], [1, 2, 3]]) == 4
    assert bench.distinct_prefix_tokens([[5], [6, 7]]) == 3 and bench.distinct_prefix_tokens([]) == 0


def test_floor_failures_name_the_ratio():
    assert bench.floor_failures({"a": 3.0, "b": 1.2}, {"a": 2.0, "b": 1.5, "c": 1.0}) == [
        "b: 1.20x is below the floor 1.5x",
        "c: not measured (floor 1.0)",
    ]
    assert bench.floor_failures({"a": 2.0}, {"a": 2.0}) == []


def test_cases_run_and_fast_paths_match_their_baselines(tiny_llama):
    from factgap.generation import HFBackend
    from factgap.models import load_causal_lm

    model, tokenizer = load_causal_lm(tiny_llama)
    backend = HFBackend(model, tokenizer, show_progress=False)
    peak = bench.matmul_peak(size=128, repeats=1)
    prompts, groups = bench.few_shot_prompts(4, 0)
    assert len(prompts) == 4 and len(set(groups)) >= 1
    probing = bench.probing_case(backend, bench.probing_prompts(3, 0), 2, 3, 2, 1, peak, 2)
    assert [r["variant"].split(":")[0] for r in probing][-1] == "project"
    assert all(r["same"] in ("reference", "True") for r in probing)  # greedy answers identical
    few = bench.few_shot_case(backend, prompts, groups, 3, 2, 1, peak)
    assert few[1]["same"] == "True"
    mc_prompts, options = bench.mc_inputs(tokenizer, ["astronomy"], 2)
    mc = bench.multiple_choice_case(model, tokenizer, mc_prompts, options, 4, 1, peak)
    assert mc[1]["same"].startswith("True") and all(0 < r["mfu"] for r in mc)
    assert "| probing |" in bench.markdown_rows(probing)


def test_training_flop_formulas():
    assert bench.training_flops(100, 10) == 4000.0 == 2 * bench.forward_flops(100, 10)
    assert bench.preference_flops(100, 10) == 6000.0


def test_loss_curve_and_its_comparison():
    history = [{"loss": 4.0, "num_tokens": 10}, {"loss": 2.5}, {"train_loss": 3.2, "train_runtime": 1.0}]
    assert bench.loss_curve(history) == [4.0, 2.5]
    assert bench.max_loss_diff([4.0, 2.5], [4.0, 2.5 + 2e-6]) == pytest.approx(2e-6)
    assert bench.max_loss_diff([4.0], [4.0, 2.5]) == float("inf") and bench.max_loss_diff([], []) == float("inf")
    assert bench.same_loss(2e-6, 1e-4) == "True (max loss diff 2.0e-06)"
    assert bench.same_loss(4.6, 1e-4).startswith("False")
    row = {
        "case": "DPO step",
        "variant": "project",
        "tokens": 90,
        "steps": 2,
        "s_per_step": 1.5,
        "loss_curve": [0.6931, 0.5],
    }
    assert bench.training_lines([row, {"case": "probing"}]) == (
        "- DPO step / project: 90 tokens in 2 steps, 1.50 s/step, losses 0.6931, 0.5000"
    )


def test_time_shares_and_op_buckets():
    shares = bench.time_shares({"a": 1.0, "b": 2.0}, 4.0)
    assert list(shares) == ["b", "a", "outside torch ops (Python, trainer, logging)"]
    assert shares["b"] == 0.5 and sum(shares.values()) == pytest.approx(1.0)
    backward = "autograd::engine::evaluate_function: MmBackward0"
    assert bench.op_bucket(["aten::mm", "ChunkedLogProbFunction"]) == bench.LM_HEAD_FORWARD
    assert bench.op_bucket(["aten::mm", "ChunkedLogProbFunctionBackward", backward]) == bench.LM_HEAD_BACKWARD
    assert bench.op_bucket(["aten::mm", "aten::linear", "autograd::engine::evaluate_function: X"]) == bench.RECOMPUTE
    assert bench.op_bucket(["aten::mm", "MmBackward0", backward]) == "decoder + LoRA matmuls, backward"
    assert bench.op_bucket(["aten::mm", "aten::linear"]) == "decoder + LoRA matmuls, forward"
    assert bench.op_bucket(["aten::_fused_adamw_", "Optimizer.step#AdamW.step"]) == "optimizer step"
    breakdown = {"decoder + LoRA matmuls, forward": 0.4, bench.RECOMPUTE: 0.2, bench.LM_HEAD_BACKWARD: 0.1}
    assert bench.biggest_overhead(breakdown) == (bench.RECOMPUTE, 0.2)
    line = bench.breakdown_lines([{"case": "LoRA SFT", "variant": "x", "breakdown": breakdown}, {"case": "y"}])
    assert line.startswith("- LoRA SFT / x: decoder") and line.endswith(f"Biggest overhead: {bench.RECOMPUTE} (20%)")


def test_ratios_and_floors_of_a_subset_run():
    run = load_script("benchmarks/run.py")
    assert run.parse_cases("preference, sft") == ["sft", "preference"]
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="unknown case"):
        run.parse_cases("sft,training")
    by = {
        ("LoRA SFT", "TRL defaults"): {"rate": 100.0},
        ("LoRA SFT", "project"): {"rate": 125.0},
        ("DPO step", "TRL defaults"): {"rate": 50.0},
        ("DPO step", "project"): {"rate": 75.0},
    }
    ratios = run.ratios_of(by, ["sft", "preference"])
    assert ratios == {"sft_vs_trl_defaults": 1.25, "dpo_step_vs_trl_defaults": 1.5}
    floors = run.floors_for({"sft_vs_trl_defaults": 1.3, "probing_vs_naive": 10.0}, ["sft", "preference"])
    assert floors == {"sft_vs_trl_defaults": 1.3}
    assert bench.floor_failures(ratios, floors) == ["sft_vs_trl_defaults: 1.25x is below the floor 1.3x"]
    assert bench.floor_failures({}, run.floors_for({"probing_vs_naive": 10.0}, list(run.CASES))) == [
        "probing_vs_naive: not measured (floor 10.0)"
    ]


def test_sft_config_has_no_gradient_checkpointing_on_a_cpu(tmp_path):
    from factgap.train import TrainSettings, sft_config_kwargs

    settings = TrainSettings(batch_size=4, learning_rate=3e-4, seed=7)
    cpu = sft_config_kwargs(settings, tmp_path, use_cuda=False)
    assert cpu["gradient_checkpointing"] is False and cpu["use_cpu"] is True and cpu["bf16"] is False
    assert (cpu["per_device_train_batch_size"], cpu["learning_rate"], cpu["seed"]) == (4, 3e-4, 7)
    assert cpu["completion_only_loss"] is True and cpu["output_dir"] == str(tmp_path)
    assert sft_config_kwargs(settings, tmp_path, use_cuda=True)["gradient_checkpointing"] is True


def test_training_inputs():
    records = bench.sft_examples(3, 0)
    assert len(records) == 3 and all(set(r) == {"prompt", "completion"} for r in records)
    pairs = bench.preference_pairs(4, 0)
    assert len(pairs) == 4 and all(p["chosen"] != p["rejected"] for p in pairs)


def test_training_cases_match_their_baselines_on_the_tiny_model(tiny_llama, tmp_path):
    """One step of each training case: the project's trainers give TRL's defaults' losses."""
    import json

    from factgap.preference.train import PreferenceSettings
    from factgap.train import TrainSettings

    manifest = json.loads(tiny_llama.read_text())
    sft = bench.sft_case(
        manifest, bench.sft_examples(4, 0), TrainSettings(batch_size=4), 1, 1, 1e9, tmp_path, profile=False
    )
    assert [r["variant"] for r in sft] == [
        "TRL defaults",
        "project + padding_free=True",
        "project: train_lora's config",
    ]
    assert all(r["same"] == "reference" or r["same"].startswith("True") for r in sft[::2])
    assert sft[0]["tokens"] == sft[1]["tokens"] == sft[2]["tokens"] > 0  # padding-free counts the same tokens
    assert len(sft[0]["loss_curve"]) == 1 and sft[2]["mfu"] > 0
    dpo = bench.preference_step_case(
        manifest,
        bench.preference_pairs(2, 0),
        PreferenceSettings(batch_size=2, bf16="off", chat_template=False),
        1,
        1,
        1e9,
        tmp_path,
        profile=False,
    )
    assert dpo[1]["same"].startswith("True") and dpo[1]["tokens"] == dpo[0]["tokens"] > 0


def test_profile_breakdown_shares_sum_to_one():
    import torch

    a = torch.randn(64, 64)
    shares = bench.profile_breakdown(lambda: torch.mm(a, a))
    assert "decoder + LoRA matmuls, forward" in shares and sum(shares.values()) == pytest.approx(1.0)
