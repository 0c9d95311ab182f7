"""S4 knowledge probe: per-item read-out of option probabilities (pure) and a thin model runner.

Ren et al. count an answer as the model's knowledge when its probability exceeds 0.5; the
prediction is the argmax (the first option among ties, as ``numpy.argmax``). Option ranks are
dense (1 = highest, ties share a rank), as the public code's ``replace_with_order``.

The runners (``letter_probs``, ``option_logliks``) run the token prefix every prompt shares (the
header and the 5 demos) once into a KV cache: on a CPU that prefix is ~85% of each prompt.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from factgap.scoring import common_prefix_length, pad_token_id, softmax

DEFAULT_THRESHOLD = 0.5


# ----------------------------------------------------------------------------------------------
# Pure read-out
# ----------------------------------------------------------------------------------------------


def dense_ranks(values: Sequence[float]) -> list[int]:
    """Dense ranks, 1 = highest value, equal values share a rank (1, 2, 2, 3)."""
    order = {v: r for r, v in enumerate(sorted(set(values), reverse=True), start=1)}
    return [order[v] for v in values]


def check_distribution(probs: Sequence[float], where: str = "", tol: float = 1e-4) -> list[float]:
    """Floats that are >= 0 and sum to 1 (within ``tol``), else ValueError naming ``where``."""
    values = [float(p) for p in probs]
    if not values or any(not math.isfinite(p) or p < 0 for p in values) or abs(math.fsum(values) - 1) > tol:
        raise ValueError(f"{where or 'probabilities'} are not a distribution: {values}")
    return values


def read_out(probs: Sequence[float], answer_index: int, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Prediction, its probability, confident (> threshold), correct, dense ranks of one item."""
    probs = check_distribution(probs)
    if not 0 <= answer_index < len(probs):
        raise ValueError(f"answer index {answer_index} is not an index into {len(probs)} options")
    prediction = max(range(len(probs)), key=lambda i: (probs[i], -i))
    return {
        "probs": probs,
        "ranks": dense_ranks(probs),
        "prediction": prediction,
        "max_prob": probs[prediction],
        "confident": probs[prediction] > threshold,
        "correct": prediction == answer_index,
    }


def probe_rows(
    items: Sequence[Mapping[str, Any]],
    probs: Sequence[Sequence[float]],
    threshold: float = DEFAULT_THRESHOLD,
    extra: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict]:
    """One row per item: the item's fields plus ``read_out`` (and optional per-item ``extra`` fields)."""
    if len(items) != len(probs):
        raise ValueError(f"{len(items)} items but {len(probs)} probability rows")
    rows = []
    for i, (item, p) in enumerate(zip(items, probs)):
        row = {**item, **read_out(p, int(item["answer_index"]), threshold)}
        if extra is not None:
            row.update(extra[i])
        rows.append(row)
    return rows


def option_probs_from_logliks(logliks: Sequence[float], lengths: Sequence[int] | None = None) -> list[float]:
    """Softmax over per-option summed log-likelihoods (the option log-likelihood read-out); with
    ``lengths`` (e.g. characters of each continuation) over log-likelihood per unit, lm-eval's
    ``acc_norm``, which removes the advantage short, frequent option texts have."""
    values = [float(v) for v in logliks]
    if lengths is not None:
        if len(lengths) != len(values) or any(n <= 0 for n in lengths):
            raise ValueError(f"need one positive length per option, got {list(lengths)}")
        values = [v / n for v, n in zip(values, lengths)]
    return softmax(values)


# ----------------------------------------------------------------------------------------------
# Model shells (torch + a transformers causal LM)
# ----------------------------------------------------------------------------------------------


def _shared_prefix_logprobs(
    model, tokenizer, sequences: Sequence[Sequence[int]], n_last: Sequence[int], max_shared: int, batch_size: int
):
    """Log-softmax rows for the last ``n_last[i]`` positions of each sequence (row j predicts the token
    after position j), running the token prefix all sequences share (at most ``max_shared``) once
    into a KV cache that every batch reuses. Yields (sequence index, float tensor [n_last, vocab])."""
    import torch
    from transformers import DynamicCache

    shared = max(0, min(min(common_prefix_length(sequences[0], x) for x in sequences), max_shared))
    device = next(model.parameters()).device
    cache = None
    if shared > 0:
        cache = DynamicCache(config=model.config)
        with torch.inference_mode():
            model(
                input_ids=torch.tensor([list(sequences[0][:shared])], device=device),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
    pad = pad_token_id(tokenizer)
    order = sorted(range(len(sequences)), key=lambda i: (-len(sequences[i]), i))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        suffixes = [list(sequences[i][shared:]) for i in batch]
        width = max(len(x) for x in suffixes)
        suffix_mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in suffixes], device=device)
        rows = torch.tensor([[pad] * (width - len(x)) + x for x in suffixes], device=device)
        positions = (shared + suffix_mask.cumsum(-1) - 1).clamp(min=shared)
        attention = torch.cat([torch.ones((len(batch), shared), dtype=torch.long, device=device), suffix_mask], 1)
        past = None
        if cache is not None:
            past = copy.deepcopy(cache)
            past.batch_repeat_interleave(len(batch))
        keep = max(n_last[i] for i in batch)
        with torch.inference_mode():
            logits = model(
                input_ids=rows,
                attention_mask=attention,
                position_ids=positions,
                past_key_values=past,
                use_cache=past is not None,
                logits_to_keep=keep,
            ).logits[:, -keep:, :]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        for row, i in enumerate(batch):
            yield i, logprobs[row, keep - n_last[i] :, :]


def letter_probs(
    model,
    tokenizer,
    prompts: Sequence[str],
    letter_ids: Sequence[int],
    batch_size: int = 8,
    add_special_tokens: bool = True,
) -> list[tuple[list[float], float]]:
    """Per prompt: (softmax over the letter tokens' next-token logits, full-vocabulary mass on the letters).

    The token prefix all prompts share (the k-shot header and demos) is run once into a KV cache
    and reused for every batch. ``letter_ids`` from ``prompts.answer_letter_token_ids``.
    """
    if not prompts:
        return []
    ids = [list(x) for x in tokenizer(list(prompts), add_special_tokens=add_special_tokens)["input_ids"]]
    results: list[tuple[list[float], float]] = [([], 0.0)] * len(prompts)
    max_shared = min(len(x) for x in ids) - 1  # every prompt keeps >= 1 own token
    for i, rows in _shared_prefix_logprobs(model, tokenizer, ids, [1] * len(ids), max_shared, batch_size):
        lps = [float(rows[-1, t]) for t in letter_ids]
        results[i] = (softmax(lps), math.fsum(math.exp(v) for v in lps))
    return results


def option_logliks(
    model,
    tokenizer,
    prompts: Sequence[str],
    continuations: Sequence[Sequence[str]],
    batch_size: int = 8,
    add_special_tokens: bool = True,
) -> list[list[float]]:
    """Summed log-prob of each continuation after its prompt: ``factgap.scoring.option_logprobs_cached``
    (the shared demo prefix once, each prompt once, its options on its KV cache)."""
    from factgap.scoring import option_logprobs_cached

    return option_logprobs_cached(model, tokenizer, prompts, continuations, batch_size, add_special_tokens)


def option_loglik_probs(
    model,
    tokenizer,
    prompts: Sequence[str],
    choices: Sequence[Sequence[str]],
    style: str = "text",
    batch_size: int = 8,
    add_special_tokens: bool = True,
    per_char: bool = False,
) -> list[list[float]]:
    """Per prompt: softmax over the summed log-probs of each option's continuation
    (``prompts.option_continuations``: ``"text"`` = `` opt``, ``"answer"`` = ``A. opt`` as the demos
    write it); ``per_char`` normalises by the continuation's length in characters."""
    from factgap.s4.prompts import option_continuations

    continuations = [option_continuations(c, style) for c in choices]
    logliks = option_logliks(model, tokenizer, list(prompts), continuations, batch_size, add_special_tokens)
    return [
        option_probs_from_logliks(v, [len(c) for c in conts] if per_char else None)
        for v, conts in zip(logliks, continuations)
    ]
