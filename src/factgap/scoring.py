"""Scoring with a transformers causal LM: option log-likelihoods, letter probabilities, token ranks.

Three operations, each ``f(model, tokenizer, ...)`` (``model`` may be a PEFT model; run it under
``with model.disable_adapter():`` to score with the base weights):

* ``option_logprobs`` -- lm-eval style multiple choice: the summed log-probability of each option's
  tokens given the prompt.
* ``letter_probabilities`` -- the S4 protocol (Ren et al. 2024): softmax over the next-token
  logits of the letter tokens only.
* ``token_ranks`` / ``token_logprobs_and_ranks`` -- the URIAL token-shift analysis: decode with a
  tuned model, score the same token ids with the base model; rank 1 = the base model's argmax.

Tokenisation rules (shared with ``factgap.vllm_backend`` so that both backends score the very same
token ids):

* Prompts are encoded with ``add_special_tokens=False`` by default, as ``HFBackend`` does for
  generation (no BOS is prepended even for tokenisers that add one by default).
* A text continuation is scored by tokenising ``prompt + continuation`` as one string and taking
  the tokens after the longest common prefix with the tokenised prompt
  (``continuation_start``). This is lm-eval's "tokenise context and context+continuation"
  recipe, and it also covers a merge across the boundary: with a prompt ending in a space,
  ``"A: " + "Paris"`` tokenises as ``[..., "A", ":", " Paris"]``, so the scored token is
  ``" Paris"`` conditioned on ``"...A:"`` (lm-eval moves the trailing space into the continuation
  for the same reason). A continuation given as token ids is appended to the prompt ids as is.
* Letters (``letter_continuations``): after a prompt that does not end in whitespace
  (``"...\\nAnswer:"``) the letter is scored as the space-prefixed token ``" A"``; after a prompt
  ending in whitespace (``"Answer: "`` or ``"...\\n"``) the boundary rule above applies, i.e.
  ``"Answer: "`` also resolves to ``" A"`` after ``"Answer:"`` with BPE tokenisers that glue the
  space to the letter, and ``"\\n"`` resolves to ``"A"``. Every letter must come out as exactly
  one token at the same position, else ``ValueError`` (the letter protocol is undefined then).

Ranks follow vLLM's definition (``batched_count_greater_than``): the number of vocabulary entries
whose log-probability is >= that of the token, so rank 1 = argmax and ties count against the
token. Log-probabilities are ``log_softmax`` in float32 over the full vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

from factgap.generation import length_sorted_batches

Continuation = Union[str, Sequence[int]]

# Padded tokens per scoring batch, by device type. A CPU gains nothing from big batches and pays for
# the padding: MMLU 0-shot on one thread, 40 questions of 100-570 tokens, take 65 s in batches of 16,
# 26 s one by one, 25.6 s under a 512-token budget (28.5 s under 1024). A GPU wants wide batches.
SCORING_BATCH_TOKENS = {"cpu": 512, "cuda": 32768}


def batch_token_budget(model) -> int:
    return SCORING_BATCH_TOKENS.get(_device(model).type, SCORING_BATCH_TOKENS["cuda"])


# ----------------------------------------------------------------------------------------------
# Pure helpers
# ----------------------------------------------------------------------------------------------


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading elements ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def continuation_start(prompt_ids: Sequence[int], full_ids: Sequence[int]) -> int:
    """Index in ``full_ids`` (tokens of prompt + continuation) where the scored tokens start.

    The longest common prefix with the prompt's own tokenisation: tokens that the boundary merged
    (prompt tail + continuation head) are scored as part of the continuation.
    """
    start = common_prefix_length(prompt_ids, full_ids)
    if start >= len(full_ids):
        raise ValueError("empty continuation: prompt + continuation tokenises to the prompt alone")
    if start == 0:
        raise ValueError(
            "nothing to condition on: the first token already belongs to the continuation "
            "(empty prompt, or the prompt merged into the continuation's first token)"
        )
    return start


def scored_positions(length: int, start: int) -> list[int]:
    """Positions whose logits predict tokens ``start..length-1`` (each token is predicted one step earlier)."""
    if not 0 < start < length:
        raise ValueError(f"need 0 < start < length, got start={start}, length={length}")
    return list(range(start - 1, length - 1))


def rank_of(logprob_row: Sequence[float], token_id: int) -> int:
    """Rank of ``token_id`` in one row of logits or log-probs: #entries >= its value (1 = argmax)."""
    value = logprob_row[token_id]
    return sum(1 for v in logprob_row if v >= value)


def ranks_from_logits(logits, targets):
    """Vectorised ``rank_of`` and token log-probs: logits [N, V], targets [N] -> (ranks [N], logprobs [N])."""
    import torch

    logprobs = torch.log_softmax(logits.float(), dim=-1)
    chosen = logprobs.gather(-1, targets.long().unsqueeze(-1))
    ranks = (logprobs >= chosen).sum(-1)
    return ranks, chosen.squeeze(-1)


def softmax(values: Sequence[float]) -> list[float]:
    """Numerically stable softmax of a few floats."""
    if not values:
        return []
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def letter_continuations(prompt: str, letters: Sequence[str]) -> list[str]:
    """``" A"`` after a prompt that does not end in whitespace, ``"A"`` after one that does."""
    if prompt and prompt[-1].isspace():
        return [str(letter) for letter in letters]
    return [f" {letter}" for letter in letters]


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int):
    """(input_ids, attention_mask, position_ids) tensors, left padded; positions count real tokens only."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, width - len(seq) :] = torch.tensor(list(seq), dtype=torch.long)
            mask[row, width - len(seq) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, positions


# ----------------------------------------------------------------------------------------------
# Tokenisation (needs a tokenizer, no model): shared with the vLLM backend
# ----------------------------------------------------------------------------------------------


def encode(tokenizer, texts: Sequence[str], add_special_tokens: bool = False) -> list[list[int]]:
    if not texts:
        return []
    return [list(ids) for ids in tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]]


def encode_pairs(
    tokenizer, prompts: Sequence[str], continuations: Sequence[Continuation], add_special_tokens: bool = False
) -> list[tuple[list[int], int]]:
    """Per (prompt, continuation): (full token ids, start of the scored tokens)."""
    if len(prompts) != len(continuations):
        raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    prompt_ids = encode(tokenizer, prompts, add_special_tokens)
    text_rows = [i for i, c in enumerate(continuations) if isinstance(c, str)]
    full_text = encode(tokenizer, [prompts[i] + continuations[i] for i in text_rows], add_special_tokens)
    full_by_row = dict(zip(text_rows, full_text))
    pairs = []
    for i, cont in enumerate(continuations):
        if isinstance(cont, str):
            full = full_by_row[i]
            pairs.append((full, continuation_start(prompt_ids[i], full)))
        else:
            cont = [int(t) for t in cont]
            if not cont:
                raise ValueError(f"continuation {i} has no tokens")
            if not prompt_ids[i]:
                raise ValueError(f"prompt {i} has no tokens to condition on")
            pairs.append((prompt_ids[i] + cont, len(prompt_ids[i])))
    return pairs


def flatten_options(
    prompts: Sequence[str], options_per_prompt: Sequence[Sequence[str]]
) -> tuple[list[str], list[str], list[int]]:
    """(prompt per pair, option per pair, number of options per prompt)."""
    if len(prompts) != len(options_per_prompt):
        raise ValueError(f"{len(prompts)} prompts but {len(options_per_prompt)} option lists")
    flat_prompts, flat_options, counts = [], [], []
    for prompt, options in zip(prompts, options_per_prompt):
        options = list(options)
        flat_prompts.extend([prompt] * len(options))
        flat_options.extend(options)
        counts.append(len(options))
    return flat_prompts, flat_options, counts


def regroup(values: Sequence, counts: Sequence[int]) -> list[list]:
    """Inverse of ``flatten_options`` for per-pair results."""
    out, pos = [], 0
    for n in counts:
        out.append(list(values[pos : pos + n]))
        pos += n
    if pos != len(values):
        raise ValueError(f"{len(values)} values for {pos} slots")
    return out


def letter_layout(
    tokenizer, prompts: Sequence[str], letters: Sequence[str] = ("A", "B", "C", "D"), add_special_tokens: bool = False
) -> list[tuple[list[int], list[int]]]:
    """Per prompt: (context ids, one token id per letter); the letters are predicted right after the context."""
    layout = []
    for prompt in prompts:
        conts = letter_continuations(prompt, letters)
        pairs = encode_pairs(tokenizer, [prompt] * len(conts), conts, add_special_tokens)
        starts = {start for _, start in pairs}
        if len(starts) != 1 or any(len(full) - start != 1 for full, start in pairs):
            pieces = [tokenizer.convert_ids_to_tokens(full[start:]) for full, start in pairs]
            raise ValueError(
                f"letters {list(letters)} do not tokenise as one token each at one position "
                f"after prompt ending {prompt[-20:]!r}: {pieces}"
            )
        start = starts.pop()
        context = pairs[0][0][:start]
        if any(full[:start] != context for full, _ in pairs):
            raise ValueError("letters change the tokenisation of the prompt")
        letter_ids = [full[start] for full, _ in pairs]
        if len(set(letter_ids)) != len(letter_ids):
            raise ValueError(f"letters {list(letters)} share a token")
        layout.append((context, letter_ids))
    return layout


# ----------------------------------------------------------------------------------------------
# Model shells
# ----------------------------------------------------------------------------------------------


def _device(model):
    return next(model.parameters()).device


def pad_token_id(tokenizer) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


def _forward_last(model, ids, mask, positions, keep: int):
    """Logits of the last ``keep`` positions (all positions when the model lacks ``logits_to_keep``)."""
    import torch

    device = _device(model)
    args = dict(
        input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device), use_cache=False
    )
    with torch.inference_mode():
        try:
            logits = model(**args, logits_to_keep=keep).logits
        except TypeError:
            logits = model(**args).logits
    return logits[:, -keep:, :]


def score_sequences(
    model, tokenizer, sequences: Sequence[tuple[Sequence[int], int]], batch_size: int = 16
) -> list[tuple[list[float], list[int]]]:
    """Per (ids, start): log-probs and ranks of ``ids[start:]`` given everything before each token."""
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    results: list[tuple[list[float], list[int]]] = [([], [])] * len(sequences)
    pad_id = pad_token_id(tokenizer)
    for batch in length_sorted_batches([len(s[0]) for s in sequences], batch_size, batch_token_budget(model)):
        seqs = [list(sequences[i][0]) for i in batch]
        starts = [sequences[i][1] for i in batch]
        for seq, start in zip(seqs, starts):
            scored_positions(len(seq), start)  # validates
        ids, mask, positions = left_pad(seqs, pad_id)
        keep = max(len(s) - st for s, st in zip(seqs, starts)) + 1
        logits = _forward_last(model, ids, mask, positions, keep)
        for row, (i, seq, start) in enumerate(zip(batch, seqs, starts)):
            n = len(seq) - start
            # kept index k corresponds to padded position width-keep+k; the last kept position predicts nothing
            rows = logits[row, keep - 1 - n : keep - 1, :]
            targets = torch.tensor(seq[start:], device=rows.device)
            ranks, lps = ranks_from_logits(rows, targets)
            results[i] = (lps.tolist(), [int(r) for r in ranks.tolist()])
    return results


def option_logprobs(
    model,
    tokenizer,
    prompts: Sequence[str],
    options_per_prompt: Sequence[Sequence[str]],
    batch_size: int = 16,
    add_special_tokens: bool = False,
) -> list[list[float]]:
    """Sum of the log-probabilities of each option's tokens given its prompt (lm-eval style)."""
    flat_prompts, flat_options, counts = flatten_options(prompts, options_per_prompt)
    pairs = encode_pairs(tokenizer, flat_prompts, flat_options, add_special_tokens)
    scored = score_sequences(model, tokenizer, pairs, batch_size)
    return regroup([math.fsum(lps) for lps, _ in scored], counts)


def token_logprobs_and_ranks(
    model,
    tokenizer,
    prompts: Sequence[str],
    continuations: Sequence[Continuation],
    batch_size: int = 16,
    add_special_tokens: bool = False,
) -> tuple[list[list[float]], list[list[int]]]:
    """Per continuation token: its log-prob and rank given prompt + preceding tokens.

    ``continuations`` are strings (tokenised jointly with the prompt) or token-id lists (the ids a
    tuned model produced: preferred for the token-shift analysis, no re-tokenisation).
    """
    pairs = encode_pairs(tokenizer, prompts, continuations, add_special_tokens)
    scored = score_sequences(model, tokenizer, pairs, batch_size)
    return [lps for lps, _ in scored], [ranks for _, ranks in scored]


def token_ranks(
    model,
    tokenizer,
    prompts: Sequence[str],
    continuations: Sequence[Continuation],
    batch_size: int = 16,
    add_special_tokens: bool = False,
) -> list[list[int]]:
    """Rank (1 = argmax) of every continuation token under ``model``; see ``token_logprobs_and_ranks``."""
    return token_logprobs_and_ranks(model, tokenizer, prompts, continuations, batch_size, add_special_tokens)[1]


def letter_probabilities(
    model,
    tokenizer,
    prompts: Sequence[str],
    letters: Sequence[str] = ("A", "B", "C", "D"),
    batch_size: int = 16,
    add_special_tokens: bool = False,
    normalize: bool = True,
) -> list[list[float]]:
    """S4 letter protocol: softmax over the next-token logits of the letter tokens (see module doc).

    ``normalize=False`` returns the letters' full-vocabulary probabilities instead (their sum is the
    mass the model puts on the letters at all).
    """
    import torch

    layout = letter_layout(tokenizer, prompts, letters, add_special_tokens)
    results: list[list[float]] = [[] for _ in prompts]
    pad_id = pad_token_id(tokenizer)
    for batch in length_sorted_batches([len(c) for c, _ in layout], batch_size, batch_token_budget(model)):
        ids, mask, positions = left_pad([layout[i][0] for i in batch], pad_id)
        logits = _forward_last(model, ids, mask, positions, 1)[:, -1, :].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        for row, i in enumerate(batch):
            letter_lps = [float(logprobs[row, t]) for t in layout[i][1]]
            results[i] = softmax(letter_lps) if normalize else [math.exp(v) for v in letter_lps]
    return results


def _option_layout(
    tokenizer, prompts: Sequence[str], options_per_prompt: Sequence[Sequence[str]], add_special_tokens: bool
) -> list[tuple[list[int], list[list[int]]]]:
    """Per prompt: (context ids shared by all its options, the scored tokens of each option); the
    context stops where any option's tokenisation departs from the prompt's (boundary merges)."""
    layout = []
    for prompt, options in zip(prompts, options_per_prompt, strict=True):
        if not options:
            raise ValueError(f"prompt {prompt[-30:]!r} has no options")
        prompt_ids = encode(tokenizer, [prompt], add_special_tokens)[0]
        fulls = encode(tokenizer, [prompt + o for o in options], add_special_tokens)
        start = min(continuation_start(prompt_ids, full) for full in fulls)
        layout.append((prompt_ids[:start], [full[start:] for full in fulls]))
    return layout


def option_logprobs_cached(
    model,
    tokenizer,
    prompts: Sequence[str],
    options_per_prompt: Sequence[Sequence[str]],
    batch_size: int = 16,
    add_special_tokens: bool = False,
) -> list[list[float]]:
    """``option_logprobs`` that runs every prompt once and its options on a copy of its KV cache, and
    the prefix all prompts share (k-shot demos, a chat template's system turn) once for all: multiple
    choice costs about one forward pass per question instead of one per option. Same results up to
    float rounding (tested against ``option_logprobs``)."""
    import copy

    import torch
    from transformers import DynamicCache

    layout = _option_layout(tokenizer, prompts, options_per_prompt, add_special_tokens)
    if not layout:
        return []
    contexts = [ctx for ctx, _ in layout]
    shared = min(min(common_prefix_length(contexts[0], c) for c in contexts), min(len(c) for c in contexts) - 1)
    device = _device(model)
    prefix = None
    if shared > 0:
        prefix = DynamicCache(config=model.config)
        with torch.inference_mode():
            model(
                input_ids=torch.tensor([contexts[0][:shared]], device=device),
                past_key_values=prefix,
                use_cache=True,
                logits_to_keep=1,
            )
    pad_id = pad_token_id(tokenizer)
    results: list[list[float]] = [[] for _ in layout]
    for batch in length_sorted_batches([len(c) for c in contexts], batch_size, batch_token_budget(model)):
        # 1. the contexts (left-padded, after the shared prefix): their caches and last-position logits
        tails = [contexts[i][shared:] for i in batch]
        width = max(len(t) for t in tails)
        tail_mask = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in tails], device=device)
        mask = torch.cat([torch.ones((len(batch), shared), dtype=torch.long, device=device), tail_mask], 1)
        positions = (shared + tail_mask.cumsum(-1) - 1).clamp(min=shared)
        cache = DynamicCache(config=model.config)
        if prefix is not None:
            cache = copy.deepcopy(prefix)
            cache.batch_repeat_interleave(len(batch))
        ids = torch.tensor([[pad_id] * (width - len(t)) + t for t in tails], device=device)
        with torch.inference_mode():
            last = (
                model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=positions,
                    past_key_values=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
                .logits[:, -1, :]
                .float()
            )
        first_lps = torch.log_softmax(last, -1)
        # 2. every option on its context's cache (right-padded: the options' own positions are aligned)
        rows = [(b, k) for b, i in enumerate(batch) for k in range(len(layout[i][1]))]
        options = [layout[batch[b]][1][k] for b, k in rows]
        owner = torch.tensor([b for b, _ in rows], device=device)
        scores = [float(first_lps[b, option[0]]) for (b, _), option in zip(rows, options)]
        longest = max(len(o) for o in options)
        if longest > 1:
            cache.batch_select_indices(owner)
            opt_width = longest - 1  # the last option token is only predicted, never fed
            feed = [o[:-1] for o in options]
            opt_ids = torch.tensor([f + [pad_id] * (opt_width - len(f)) for f in feed], device=device)
            opt_mask = torch.tensor([[1] * len(f) + [0] * (opt_width - len(f)) for f in feed], device=device)
            full_mask = torch.cat([mask[owner], opt_mask], 1)
            opt_pos = positions[owner, -1:] + 1 + torch.arange(opt_width, device=device)
            with torch.inference_mode():
                logits = model(
                    input_ids=opt_ids,
                    attention_mask=full_mask,
                    position_ids=opt_pos,
                    past_key_values=cache,
                    use_cache=True,
                ).logits.float()
            lps = torch.log_softmax(logits, -1)
            for r, option in enumerate(options):
                scores[r] += math.fsum(float(lps[r, j, option[j + 1]]) for j in range(len(option) - 1))
        for (b, _), score in zip(rows, scores):
            results[batch[b]].append(score)
    return results
