"""factgap.backends (pure choice) and the pure comparison functions of scripts/backend_parity.py."""

from __future__ import annotations

import json

import pytest
from conftest import load_script

from factgap import backends


@pytest.mark.parametrize(
    "requested,cuda,vllm,expected",
    [
        ("hf", True, True, "hf"),
        ("hf", False, False, "hf"),
        ("auto", True, True, "vllm"),
        ("auto", True, False, "hf"),
        ("auto", False, True, "hf"),
        ("auto", False, False, "hf"),
        ("vllm", True, True, "vllm"),
        (" VLLM ", True, True, "vllm"),
    ],
)
def test_choose_backend(requested, cuda, vllm, expected):
    assert backends.choose_backend(requested, cuda, vllm) == expected


@pytest.mark.parametrize(
    "cuda,vllm,message",
    [
        (False, True, "a CUDA GPU is not available"),
        (True, False, "the vllm package is not available"),
        (False, False, "a CUDA GPU and the vllm package are not available"),
    ],
)
def test_choose_backend_vllm_unavailable(cuda, vllm, message):
    with pytest.raises(RuntimeError, match=message):
        backends.choose_backend("vllm", cuda, vllm)


def test_choose_backend_unknown():
    with pytest.raises(ValueError, match="not one of"):
        backends.choose_backend("tgi", True, True)


def test_vllm_dtype():
    assert backends.vllm_dtype("bfloat16") == "bfloat16" and backends.vllm_dtype(None) == "auto"


def test_score_with_rejects_unknown_method():
    with pytest.raises(ValueError):
        backends.score_with(object(), "perplexity")


def test_make_backend_hf_on_the_embedded_model(embedded_model):
    """make_backend('hf') loads the real embedded model through its manifest."""
    import torch

    manifest = embedded_model
    torch.set_num_threads(1)
    backend = backends.make_backend("hf", manifest, show_progress=False)
    assert backend.name == "hf"
    scores = backends.score_with(
        backend, "option_logprobs", ["Q: What is the capital of France?\nA:"], [[" Paris", " Berlin"]]
    )
    assert scores[0][0] > scores[0][1]


# ------------------------------------------------------------------------ parity script (pure parts)


@pytest.fixture(scope="module")
def parity():
    return load_script("scripts/backend_parity.py")


def test_parity_greedy_agreement(parity):
    res = parity.greedy_agreement(["Paris\n", " Lyon", "x"], [" Paris", "Lyon\nmore", "y"])
    assert res["n"] == 3 and res["agree"] == 2 and res["rate"] == pytest.approx(2 / 3)
    assert res["disagreements"] == [{"index": 2, "hf": "x", "vllm": "y"}]
    assert parity.greedy_agreement([], [])["rate"] == 1.0
    with pytest.raises(ValueError):
        parity.greedy_agreement(["a"], [])


def test_parity_score_comparison(parity):
    hf = [[-1.0, -2.0, -3.0], [-0.5, -0.4]]
    vl = [[-1.01, -2.0, -2.95], [-0.39, -0.5]]
    res = parity.compare_scores(hf, vl)
    assert res["max_abs_diff"] == pytest.approx(0.11)
    assert res["argmax_agreement"] == pytest.approx(0.5)
    assert res["rank_order_agreement"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        parity.compare_scores([[1.0]], [[1.0, 2.0]])


def test_parity_rank_comparison(parity):
    res = parity.compare_ranks([[1, 1, 2], [5]], [[1, 1, 3], [5]])
    assert res["tokens"] == 4 and res["exact"] == pytest.approx(0.75)
    assert res["same_shift_class"] == pytest.approx(1.0)  # 2 and 3 are both "marginal"
    assert parity.shift_class(1) == "unshifted" and parity.shift_class(3) == "marginal"
    assert parity.shift_class(4) == "shifted"


def test_parity_verdict(parity):
    report = {
        "greedy": {"rate": 0.95},
        "options": {"max_abs_diff": 0.01, "argmax_agreement": 1.0},
        "letters": {"max_abs_diff": 0.001, "argmax_agreement": 1.0},
        "ranks": {"same_shift_class": 1.0},
    }
    assert parity.failures(report, atol=0.05, prob_atol=0.01, min_agreement=0.9) == []
    report["options"]["max_abs_diff"] = 0.2
    report["greedy"]["rate"] = 0.5
    fails = parity.failures(report, atol=0.05, prob_atol=0.01, min_agreement=0.9)
    assert len(fails) == 2 and any("greedy" in f for f in fails)


def test_parity_load_items(parity, tmp_path):
    items = parity.load_items(None)
    assert len(items) >= 8 and all("prompt" in it and "answer" in it for it in items)
    assert all(len(it["options"]) == 4 for it in parity.builtin_mc_items())
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"prompt": "Q: a?\nA:", "answer": "b", "options": [" b", " c"]}) + "\n\n")
    assert parity.load_items(path) == [{"prompt": "Q: a?\nA:", "answer": "b", "options": [" b", " c"]}]
