"""factgap.vllm_backend: pure request building and output parsing, with fake vLLM-like objects (no vllm)."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field

import pytest

from factgap import vllm_backend as vb


# Fakes with the attribute names of vllm.outputs.RequestOutput / CompletionOutput and vllm.logprobs.Logprob
@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list = field(default_factory=list)
    cumulative_logprob: float | None = None
    logprobs: list | None = None
    finish_reason: str | None = "stop"


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list | None
    prompt_logprobs: list | None
    outputs: list
    finished: bool = True


def test_module_does_not_import_vllm():
    import importlib

    had_vllm = "vllm" in sys.modules
    importlib.reload(vb)  # importable without vllm installed; the import is inside the constructor
    assert ("vllm" in sys.modules) == had_vllm
    assert vb.VLLMBackend.name == "vllm"


def test_default_tensor_parallel_size():
    assert vb.default_tensor_parallel_size(1) == 1
    assert vb.default_tensor_parallel_size(3) == 2
    assert vb.default_tensor_parallel_size(8, num_attention_heads=32, num_key_value_heads=8) == 8
    assert vb.default_tensor_parallel_size(8, num_attention_heads=9, num_key_value_heads=3) == 1  # SmolLM2-135M
    assert vb.default_tensor_parallel_size(4, num_attention_heads=12) == 4
    assert vb.default_tensor_parallel_size(8, num_attention_heads=12) == 4
    assert vb.default_tensor_parallel_size(8, num_attention_heads=32, num_key_value_heads=2) == 8  # kv replicated
    with pytest.raises(ValueError):
        vb.default_tensor_parallel_size(0)


def test_lora_engine_settings(tmp_path):
    assert vb.lora_engine_settings({"peft_type": "LORA", "r": 8}) == {
        "enable_lora": True,
        "max_lora_rank": 8,
        "max_loras": 1,
    }
    assert vb.lora_engine_settings({"r": 4})["max_lora_rank"] == 8
    assert vb.lora_engine_settings({"r": 17})["max_lora_rank"] == 32
    with pytest.raises(ValueError, match="DoRA"):
        vb.lora_engine_settings({"r": 8, "use_dora": True})
    with pytest.raises(ValueError):
        vb.lora_engine_settings({"r": 4096})
    with pytest.raises(ValueError):
        vb.lora_engine_settings({"peft_type": "IA3"})
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 16}))
    assert vb.read_adapter_config(tmp_path)["r"] == 16
    with pytest.raises(FileNotFoundError):
        vb.read_adapter_config(tmp_path / "missing")


def test_engine_kwargs():
    kw = vb.engine_kwargs(
        "/m",
        revision="abc",
        dtype="bfloat16",
        tensor_parallel_size=2,
        max_logprobs=5,
        enable_prefix_caching=False,
        lora={"enable_lora": True, "max_lora_rank": 16},
        extra={"enforce_eager": True},
    )
    assert kw["model"] == "/m" and kw["tokenizer"] == "/m" and kw["revision"] == "abc"
    assert kw["tensor_parallel_size"] == 2 and kw["max_logprobs"] == 5 and kw["enable_prefix_caching"] is False
    assert kw["enable_lora"] is True and kw["max_lora_rank"] == 16 and kw["enforce_eager"] is True
    assert "max_model_len" not in kw
    assert vb.engine_kwargs("/m", max_model_len=512)["max_model_len"] == 512


def test_generation_params():
    greedy = vb.generation_params(max_tokens=12, stop=["\n"])
    assert greedy["temperature"] == 0.0 and greedy["n"] == 1 and greedy["stop"] == ["\n"]
    assert greedy["include_stop_str_in_output"] is True and "seed" not in greedy and "top_k" not in greedy
    sampled = vb.generation_params(max_tokens=12, stop=None, n=16, temperature=0.5, top_k=40, seed=7)
    assert sampled["n"] == 16 and sampled["top_k"] == 40 and sampled["seed"] == 7 and sampled["stop"] == []
    assert "top_k" not in vb.generation_params(max_tokens=1, stop=None, n=2, temperature=1.0, top_k=0)
    with pytest.raises(ValueError):
        vb.generation_params(max_tokens=1, stop=None, n=0)


def test_scoring_params_and_requests():
    assert vb.scoring_params() == {"n": 1, "temperature": 0.0, "max_tokens": 1, "prompt_logprobs": 1}
    assert vb.token_prompt((1, 2)) == {"prompt_token_ids": [1, 2]}
    assert vb.letter_requests([([5, 6], [10, 11]), ([7], [10, 11])]) == [
        ([5, 6, 10], 2),
        ([5, 6, 11], 2),
        ([7, 10], 1),
        ([7, 11], 1),
    ]


def test_request_seed_depends_on_prompt_and_seed_only():
    a = vb.request_seed(0, "p")
    assert a == vb.request_seed(0, "p") and 0 <= a < 2**31
    assert a != vb.request_seed(1, "p") and a != vb.request_seed(0, "q")


def test_parse_generations_orders_by_index():
    outs = [
        RequestOutput("0", None, [1], None, [CompletionOutput(1, "b\n"), CompletionOutput(0, "a\n")]),
        RequestOutput("1", None, [1], None, [CompletionOutput(0, "x")]),
    ]
    assert vb.parse_generations(outs) == [["a\n", "b\n"], ["x"]]


def _scored_output(ids, logprob_of, rank_of, extra_top=True):
    entries = [None]
    for j in range(1, len(ids)):
        d = {ids[j]: Logprob(logprob_of(j), rank_of(j))}
        if extra_top and rank_of(j) != 1:
            d[999] = Logprob(-0.01, 1)  # the top-1 alternative vLLM adds with prompt_logprobs=1
        entries.append(d)
    return RequestOutput("0", None, list(ids), entries, [CompletionOutput(0, "z")])


def test_parse_prompt_logprobs():
    ids = [3, 4, 5, 6]
    out = _scored_output(ids, lambda j: -float(j), lambda j: j)
    assert vb.parse_prompt_logprobs(out, ids, 2) == ([-2.0, -3.0], [2, 3])
    assert vb.parse_prompt_logprobs(out, ids, 1) == ([-1.0, -2.0, -3.0], [1, 2, 3])
    with pytest.raises(ValueError, match="different prompt token ids"):
        vb.parse_prompt_logprobs(out, [3, 4, 5, 7], 2)
    broken = _scored_output(ids, lambda j: -1.0, lambda j: 1)
    del broken.prompt_logprobs[3][6]
    with pytest.raises(ValueError, match="missing"):
        vb.parse_prompt_logprobs(broken, ids, 2)
    none = RequestOutput("0", None, ids, None, [])
    with pytest.raises(ValueError, match="no prompt_logprobs"):
        vb.parse_prompt_logprobs(none, ids, 2)
    with pytest.raises(ValueError):
        vb.parse_prompt_logprobs(out, ids, 0)


def test_letter_probabilities_from_logprobs():
    p = vb.letter_probabilities_from_logprobs([math.log(0.2), math.log(0.1), math.log(0.05), math.log(0.05)])
    assert p == pytest.approx([0.5, 0.25, 0.125, 0.125])
    raw = vb.letter_probabilities_from_logprobs([math.log(0.2), math.log(0.1)], normalize=False)
    assert raw == pytest.approx([0.2, 0.1])


class _FakeLLM:
    """Stands in for vllm.LLM.generate: scores prompts with a fixed rule, generates fixed texts."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, sampling_params, use_tqdm, lora_request):
        self.calls.append((prompts, sampling_params, lora_request))
        outs = []
        for i, (prompt, params) in enumerate(zip(prompts, sampling_params)):
            ids = prompt["prompt_token_ids"]
            if params.get("prompt_logprobs"):
                outs.append(_scored_output(ids, lambda j, ids=ids: -0.1 * ids[j], lambda j, ids=ids: 1 + ids[j] % 3))
            else:
                texts = [f"t{params.get('seed', 'g')}-{k}\n" for k in range(params["n"])]
                outs.append(
                    RequestOutput(str(i), None, ids, None, [CompletionOutput(k, t) for k, t in enumerate(texts)])
                )
        return outs


class _CharTokenizer:
    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[ord(c) for c in t] for t in texts]}

    def convert_ids_to_tokens(self, ids):
        return [chr(i) for i in ids]


def _fake_backend(enable_prefix_caching):
    backend = object.__new__(vb.VLLMBackend)  # skip the constructor (it starts vLLM)
    backend._sampling_params_cls = dict
    backend.stop = ["\n"]
    backend.show_progress = False
    backend.add_special_tokens = False
    backend.enable_prefix_caching = enable_prefix_caching
    backend.allow_cached_scoring = False
    backend.tokenizer = _CharTokenizer()
    backend.lora_request = "LORA"
    backend.llm = _FakeLLM()
    return backend


def test_backend_generation_shapes_with_fake_engine():
    backend = _fake_backend(True)
    assert backend.greedy(["ab", "c"], max_new_tokens=3) == ["tg-0\n", "tg-0\n"]
    greedy, samples = backend.greedy_and_samples(
        ["ab", "c"], n_samples=2, temperature=0.5, top_k=40, max_new_tokens=3, seed=1
    )
    assert greedy == ["tg-0\n", "tg-0\n"]
    s_ab, s_c = vb.request_seed(1, "ab"), vb.request_seed(1, "c")
    assert samples == [[f"t{s_ab}-0\n", f"t{s_ab}-1\n"], [f"t{s_c}-0\n", f"t{s_c}-1\n"]]
    prompts, params, lora = backend.llm.calls[-1]
    assert prompts[0] == {"prompt_token_ids": [97, 98]} and len(prompts) == 4 and lora == "LORA"
    assert backend.greedy_and_samples([], n_samples=2, temperature=0.5, top_k=40, max_new_tokens=3) == ([], [])
    g, s = backend.greedy_and_samples(["ab"], n_samples=0, temperature=0.5, top_k=40, max_new_tokens=3)
    assert g == ["tg-0\n"] and s == [[]]


def test_backend_scoring_with_fake_engine():
    with pytest.raises(RuntimeError, match="42019"):
        _fake_backend(True).option_logprobs(["ab"], [["c"]])
    backend = _fake_backend(False)
    scores = backend.option_logprobs(["ab", "x"], [["c", "de"], ["y"]])
    assert scores == [[pytest.approx(-9.9), pytest.approx(-0.1 * (100 + 101))], [pytest.approx(-12.1)]]
    lps, ranks = backend.token_logprobs_and_ranks(["ab"], [[3, 4]])
    assert lps == [pytest.approx([-0.3, -0.4])] and ranks == [[1, 2]]
    assert backend.token_ranks(["ab"], ["c"]) == [[1 + 99 % 3]]
    probs = backend.letter_probabilities(["Answer: "], letters=("A", "B"))
    expected = vb.softmax([-6.5, -6.6])
    assert probs == [pytest.approx(expected)]
