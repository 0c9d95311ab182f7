"""Generation and scoring on vLLM (GPU machines), with the same interface as ``HFBackend``.

``VLLMBackend`` offers ``greedy`` and ``greedy_and_samples`` (as ``factgap.generation.HFBackend``)
plus ``option_logprobs``, ``letter_probabilities``, ``token_ranks`` and
``token_logprobs_and_ranks`` (as ``factgap.scoring``). vLLM is imported inside the constructor only,
so this module imports on machines without it; everything that needs no GPU is a pure function
below (request building, SamplingParams keyword arguments, parsing of ``RequestOutput`` objects,
engine settings) and is unit-tested without vLLM.

Design decisions
* **Same token ids as the HF backend.** Every request is a token prompt
  (``{"prompt_token_ids": [...]}``) built with the HF tokenizer and the rules of
  ``factgap.scoring`` (``add_special_tokens=False`` as ``HFBackend``; lm-eval style option
  tokenisation; letter layout). vLLM never tokenises a prompt itself, so BOS handling and boundary
  merges cannot differ between backends.
* **Prefix caching: on for generation engines, off for scoring engines.** ``SamplingParams(n=...)``
  shares one prefill between samples and the greedy/sampled requests of a prompt share its
  prefix, so generation wants the cache. Prompt log-probabilities, however, can change with the
  order of requests when prefix caching is on (vLLM issue #42019, open). Hence
  ``enable_prefix_caching`` (default True) and the scoring methods refuse to run on an engine with
  the cache on (``RuntimeError``) unless ``allow_cached_scoring=True``. Build the scoring engine
  with ``VLLMBackend(..., enable_prefix_caching=False)`` (``factgap.backends.make_backend(...,
  for_scoring=True)``); it can also generate, only slower.
* **Scores come from prompt log-probabilities.** Each scored sequence is sent as a prompt with
  ``prompt_logprobs=1`` and ``max_tokens=1``; vLLM always includes the actual prompt token in each
  position's dict, with its full-vocabulary ``rank`` (number of tokens with log-prob >= its own,
  the same definition as ``factgap.scoring.rank_of``), so the ``max_logprobs`` cap never limits
  ranks. Letter probabilities send context + letter once per letter (the letters' log-probs at
  the same position; the softmax over them equals the softmax over their logits).
* **Stop strings stay in the text** (``include_stop_str_in_output=True``), like HF
  ``stop_strings``, so callers can extract answers the same way from both backends. HF can
  return a few characters more (the rest of the token that contained the stop string).
* **Sampling seeds are per prompt** (``request_seed``): samples do not depend on how requests are
  batched. They differ from HF's samples (different RNG streams); greedy outputs are comparable.
* **LoRA adapters are served without merging** via ``LoRARequest``; the engine is started with
  ``enable_lora=True`` and ``max_lora_rank`` rounded up to a rank vLLM supports (the largest of ``r``
  and ``rank_pattern``). Adapters vLLM refuses to load (DoRA, ``modules_to_save``, bias terms) are
  refused by the constructor, before an engine is started.

Checked against the installed vLLM (0.33.0, ``envs/requirements-gpu.lock``) by
``tests/test_vllm_api.py`` (``make test-vllm``, CPU only): engine arguments, ``SamplingParams``,
``LoRARequest``, token prompts, output classes and the prompt log-prob/rank path. vLLM 0.33 also sets
``SamplingParams.skip_reading_prefix_cache`` for prompt-logprob requests; the scoring guard stays until
scoring parity with prefix caching on is measured on a GPU.

Attribute names read from vLLM objects (vllm/outputs.py, vllm/logprobs.py):
``RequestOutput.outputs`` (list of ``CompletionOutput``), ``RequestOutput.prompt_logprobs``
(list, ``None`` at position 0, else ``dict[token_id, Logprob]``), ``RequestOutput.prompt_token_ids``,
``CompletionOutput.index``/``.text``/``.token_ids``, ``Logprob.logprob``/``.rank``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from factgap.generation import batch_seed
from factgap.scoring import (
    Continuation,
    encode_pairs,
    flatten_options,
    letter_layout,
    regroup,
    scored_positions,
    softmax,
)

log = logging.getLogger(__name__)

# LoRA ranks vLLM's engine accepts for max_lora_rank (older releases: 8..256; newer ones add 1, 320, 512).
SUPPORTED_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


# ----------------------------------------------------------------------------------------------
# Pure: engine settings
# ----------------------------------------------------------------------------------------------


def default_tensor_parallel_size(
    gpu_count: int, num_attention_heads: int | None = None, num_key_value_heads: int | None = None
) -> int:
    """Largest power of two <= ``gpu_count`` that divides the attention (and KV) head counts."""
    if gpu_count < 1:
        raise ValueError("vLLM needs at least one GPU")

    def fits(size: int) -> bool:
        heads_ok = num_attention_heads is None or num_attention_heads % size == 0
        # vLLM replicates KV heads when tp > kv heads, but one count must divide the other
        kv_ok = num_key_value_heads is None or num_key_value_heads % size == 0 or size % num_key_value_heads == 0
        return heads_ok and kv_ok

    size = 1
    while size * 2 <= gpu_count:
        size *= 2
    while size > 1 and not fits(size):
        size //= 2
    return size


def read_adapter_config(adapter_dir: str | os.PathLike) -> dict:
    path = Path(adapter_dir) / "adapter_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a PEFT adapter directory")
    return json.loads(path.read_text(encoding="utf-8"))


def lora_engine_settings(adapter_config: Mapping[str, Any]) -> dict:
    """Engine keyword arguments for serving one LoRA adapter (PEFT ``adapter_config.json`` contents)."""
    if adapter_config.get("peft_type", "LORA") != "LORA":
        raise ValueError(f"vLLM serves LoRA adapters only, not {adapter_config.get('peft_type')}")
    if adapter_config.get("use_dora"):
        raise ValueError("vLLM does not serve DoRA adapters: merge it and serve the merged model instead")
    # vLLM (0.33: vllm/lora/peft_helper.py) refuses these adapters when the first request loads them
    trained_modules = [m for m in adapter_config.get("modules_to_save") or [] if m not in ("classifier", "score")]
    if trained_modules:
        raise ValueError(
            f"vLLM does not serve adapters with modules_to_save={trained_modules} "
            "(fully trained modules): merge it and serve the merged model instead"
        )
    if adapter_config.get("bias", "none") != "none" or adapter_config.get("lora_bias"):
        raise ValueError(
            "vLLM does not serve LoRA adapters with bias terms: merge it and serve the merged model instead"
        )
    # vLLM checks max_lora_rank against the largest rank, per-module rank_pattern included
    pattern_ranks = (adapter_config.get("rank_pattern") or {}).values()
    rank = max([int(adapter_config.get("r", 8)), *(int(v) for v in pattern_ranks)])
    for supported in SUPPORTED_LORA_RANKS:
        if rank <= supported:
            return {"enable_lora": True, "max_lora_rank": supported, "max_loras": 1}
    raise ValueError(f"LoRA rank {rank} exceeds vLLM's maximum {SUPPORTED_LORA_RANKS[-1]}")


def engine_kwargs(
    model: str,
    *,
    revision: str | None = None,
    dtype: str = "auto",
    tensor_parallel_size: int = 1,
    max_logprobs: int = 20,
    enable_prefix_caching: bool = True,
    seed: int = 0,
    gpu_memory_utilization: float = 0.85,
    max_model_len: int | None = None,
    lora: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict:
    """Keyword arguments for ``vllm.LLM``."""
    kwargs = {
        "model": str(model),
        "tokenizer": str(model),
        "revision": revision,
        "tokenizer_revision": revision,
        "dtype": dtype,
        "tensor_parallel_size": int(tensor_parallel_size),
        "max_logprobs": int(max_logprobs),
        "enable_prefix_caching": bool(enable_prefix_caching),
        "seed": int(seed),
        "gpu_memory_utilization": float(gpu_memory_utilization),
    }
    if max_model_len is not None:
        kwargs["max_model_len"] = int(max_model_len)
    if lora:
        kwargs.update(lora)
    if extra:
        kwargs.update(extra)
    return kwargs


# ----------------------------------------------------------------------------------------------
# Pure: requests
# ----------------------------------------------------------------------------------------------


def request_seed(seed: int, prompt: str) -> int:
    """Sampling seed of one prompt's request (independent of batching)."""
    return batch_seed(seed, [prompt]) % (2**31)


def generation_params(
    *,
    max_tokens: int,
    stop: Sequence[str] | None,
    n: int = 1,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
    top_p: float = 1.0,
) -> dict:
    """``SamplingParams`` keyword arguments for a generation request (temperature 0 = greedy)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    kwargs: dict[str, Any] = {
        "n": int(n),
        "temperature": float(temperature),
        "top_p": 1.0,
        "max_tokens": int(max_tokens),
        "stop": list(stop or []),
        "include_stop_str_in_output": True,
        "skip_special_tokens": True,
        "repetition_penalty": 1.0,
    }
    if temperature > 0:
        if top_k is not None and top_k > 0:
            kwargs["top_k"] = int(top_k)
        kwargs["top_p"] = float(top_p)
        if seed is not None:
            kwargs["seed"] = int(seed)
    return kwargs


def scoring_params(prompt_logprobs: int = 1) -> dict:
    """``SamplingParams`` keyword arguments for a request that only reads prompt log-probabilities."""
    return {"n": 1, "temperature": 0.0, "max_tokens": 1, "prompt_logprobs": int(prompt_logprobs)}


def token_prompt(ids: Sequence[int]) -> dict:
    """A vLLM ``TokensPrompt`` (a TypedDict: a plain dict is accepted)."""
    return {"prompt_token_ids": [int(t) for t in ids]}


def letter_requests(layout: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[tuple[list[int], int]]:
    """(ids, start) per prompt and letter: context + letter, scoring the letter alone."""
    return [(list(context) + [int(letter)], len(context)) for context, letters in layout for letter in letters]


# ----------------------------------------------------------------------------------------------
# Pure: parsing RequestOutput-like objects
# ----------------------------------------------------------------------------------------------


def completion_texts(request_output) -> list[str]:
    """Texts of a request's completions, in ``index`` order."""
    outputs = sorted(request_output.outputs, key=lambda o: getattr(o, "index", 0))
    return [o.text for o in outputs]


def parse_generations(request_outputs: Sequence) -> list[list[str]]:
    return [completion_texts(r) for r in request_outputs]


def parse_prompt_logprobs(request_output, ids: Sequence[int], start: int) -> tuple[list[float], list[int]]:
    """Log-probs and ranks of ``ids[start:]`` from a request's ``prompt_logprobs``."""
    positions = scored_positions(len(ids), start)
    prompt_ids = getattr(request_output, "prompt_token_ids", None)
    if prompt_ids is not None and list(prompt_ids) != list(ids):
        raise ValueError("vLLM scored different prompt token ids than were sent")
    entries = request_output.prompt_logprobs
    if entries is None:
        raise ValueError("request output has no prompt_logprobs (was prompt_logprobs set?)")
    if len(entries) != len(ids):
        raise ValueError(f"{len(entries)} prompt_logprobs entries for {len(ids)} prompt tokens")
    logprobs, ranks = [], []
    for pos in positions:
        token = int(ids[pos + 1])
        entry = entries[pos + 1]
        if entry is None or token not in entry:
            raise ValueError(f"prompt token {token} at position {pos + 1} missing from prompt_logprobs")
        item = entry[token]
        logprobs.append(float(item.logprob))
        if item.rank is None:
            raise ValueError(f"no rank for prompt token {token} at position {pos + 1}")
        ranks.append(int(item.rank))
    return logprobs, ranks


def letter_probabilities_from_logprobs(letter_logprobs: Sequence[float], normalize: bool = True) -> list[float]:
    return softmax(list(letter_logprobs)) if normalize else [math.exp(v) for v in letter_logprobs]


# ----------------------------------------------------------------------------------------------
# Shell
# ----------------------------------------------------------------------------------------------


def visible_gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class VLLMBackend:
    """vLLM engine with HFBackend's generation interface plus scoring (see module doc)."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        adapter: str | os.PathLike | None = None,
        *,
        revision: str | None = None,
        dtype: str = "auto",
        tensor_parallel_size: int | None = None,
        max_logprobs: int = 20,
        enable_prefix_caching: bool = True,
        allow_cached_scoring: bool = False,
        stop: Sequence[str] = ("\n",),
        show_progress: bool = True,
        seed: int = 0,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        add_special_tokens: bool = False,
        engine_extra: Mapping[str, Any] | None = None,
    ):
        from transformers import AutoConfig, AutoTokenizer
        from vllm import LLM, SamplingParams

        self._sampling_params_cls = SamplingParams
        self.stop = list(stop)
        self.show_progress = show_progress
        self.add_special_tokens = add_special_tokens
        self.enable_prefix_caching = enable_prefix_caching
        self.allow_cached_scoring = allow_cached_scoring
        self.tokenizer = AutoTokenizer.from_pretrained(str(model), revision=revision)
        if tensor_parallel_size is None:
            config = AutoConfig.from_pretrained(str(model), revision=revision)
            tensor_parallel_size = default_tensor_parallel_size(
                max(1, visible_gpu_count()),
                getattr(config, "num_attention_heads", None),
                getattr(config, "num_key_value_heads", None),
            )
        lora = None
        self.lora_request = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            lora = lora_engine_settings(read_adapter_config(adapter))
            self.lora_request = LoRARequest("adapter", 1, str(Path(adapter).resolve()))
        kwargs = engine_kwargs(
            str(model),
            revision=revision,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            max_logprobs=max_logprobs,
            enable_prefix_caching=enable_prefix_caching,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            lora=lora,
            extra=engine_extra,
        )
        log.info("starting vLLM: %s", {k: v for k, v in kwargs.items() if k != "tokenizer"})
        self.llm = LLM(**kwargs)

    # -- plumbing ---------------------------------------------------------------------------
    def _run(self, prompts: Sequence[dict], params: Sequence[dict]):
        sampling = [self._sampling_params_cls(**p) for p in params]
        return self.llm.generate(
            list(prompts), sampling_params=sampling, use_tqdm=self.show_progress, lora_request=self.lora_request
        )

    def _encode(self, prompts: Sequence[str]) -> list[dict]:
        ids = self.tokenizer(list(prompts), add_special_tokens=self.add_special_tokens)["input_ids"]
        return [token_prompt(x) for x in ids]

    def _require_scoring_engine(self):
        if self.enable_prefix_caching and not self.allow_cached_scoring:
            raise RuntimeError(
                "scoring on a vLLM engine with prefix caching on gives order-dependent prompt "
                "log-probabilities (vLLM issue #42019): build the scoring backend with "
                "enable_prefix_caching=False (make_backend(..., for_scoring=True))"
            )

    def _score(self, pairs: Sequence[tuple[Sequence[int], int]]) -> list[tuple[list[float], list[int]]]:
        self._require_scoring_engine()
        if not pairs:
            return []
        outputs = self._run([token_prompt(ids) for ids, _ in pairs], [scoring_params()] * len(pairs))
        return [parse_prompt_logprobs(out, ids, start) for out, (ids, start) in zip(outputs, pairs)]

    # -- generation (HFBackend interface) ------------------------------------------------------
    def greedy(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int,
        batch_size: int = 16,
        stop: Sequence[str] | None = None,
        desc: str = "greedy",
        groups: Sequence[str] | None = None,
    ) -> list[str]:
        """``batch_size``, ``desc`` and ``groups`` are accepted for interface parity; vLLM schedules
        itself and shares common prefixes through its prefix cache."""
        if not prompts:
            return []
        stop = self.stop if stop is None else list(stop)
        params = generation_params(max_tokens=max_new_tokens, stop=stop)
        outputs = self._run(self._encode(prompts), [params] * len(prompts))
        return [texts[0] for texts in parse_generations(outputs)]

    def greedy_and_samples(
        self,
        prompts: Sequence[str],
        *,
        n_samples: int,
        temperature: float,
        top_k: int,
        max_new_tokens: int,
        batch_size: int = 16,
        seed: int = 0,
        stop: Sequence[str] | None = None,
        desc: str = "generate",
        top_p: float = 1.0,
    ) -> tuple[list[str], list[list[str]]]:
        if not prompts:
            return [], []
        stop = self.stop if stop is None else list(stop)
        encoded = self._encode(prompts)
        requests = list(encoded)
        params = [generation_params(max_tokens=max_new_tokens, stop=stop)] * len(prompts)
        if n_samples:
            requests += encoded
            params += [
                generation_params(
                    max_tokens=max_new_tokens,
                    stop=stop,
                    n=n_samples,
                    temperature=temperature,
                    top_k=top_k,
                    top_p=top_p,
                    seed=request_seed(seed, p),
                )
                for p in prompts
            ]
        texts = parse_generations(self._run(requests, params))
        greedy = [t[0] for t in texts[: len(prompts)]]
        samples = texts[len(prompts) :] if n_samples else [[] for _ in prompts]
        return greedy, samples

    # -- scoring (factgap.scoring interface, minus model/tokenizer) ------------------------------
    def option_logprobs(
        self, prompts: Sequence[str], options_per_prompt: Sequence[Sequence[str]], batch_size: int = 16
    ) -> list[list[float]]:
        flat_prompts, flat_options, counts = flatten_options(prompts, options_per_prompt)
        pairs = encode_pairs(self.tokenizer, flat_prompts, flat_options, self.add_special_tokens)
        return regroup([math.fsum(lps) for lps, _ in self._score(pairs)], counts)

    def token_logprobs_and_ranks(
        self, prompts: Sequence[str], continuations: Sequence[Continuation], batch_size: int = 16
    ) -> tuple[list[list[float]], list[list[int]]]:
        pairs = encode_pairs(self.tokenizer, prompts, continuations, self.add_special_tokens)
        scored = self._score(pairs)
        return [lps for lps, _ in scored], [ranks for _, ranks in scored]

    def token_ranks(
        self, prompts: Sequence[str], continuations: Sequence[Continuation], batch_size: int = 16
    ) -> list[list[int]]:
        return self.token_logprobs_and_ranks(prompts, continuations, batch_size)[1]

    def letter_probabilities(
        self,
        prompts: Sequence[str],
        letters: Sequence[str] = ("A", "B", "C", "D"),
        batch_size: int = 16,
        normalize: bool = True,
    ) -> list[list[float]]:
        layout = letter_layout(self.tokenizer, prompts, letters, self.add_special_tokens)
        scored = self._score(letter_requests(layout))
        per_letter = [lps[0] for lps, _ in scored]
        return [
            letter_probabilities_from_logprobs(row, normalize)
            for row in regroup(per_letter, [len(letters)] * len(prompts))
        ]
