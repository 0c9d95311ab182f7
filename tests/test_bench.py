"""Benchmark helpers (pure) and one tiny real run of every case on the tiny model."""
import pytest

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
        "b: 1.20x is below the floor 1.5x", "c: not measured (floor 1.0)"]
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
