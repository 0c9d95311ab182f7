"""Batched generation on the transformers backend.

``HFBackend.greedy_and_samples`` runs each prompt's prefill once and shares it between the greedy
answer and the ``n_samples`` sampled answers (the KV cache is copied / repeated, never recomputed):
on a CPU this is the difference between ~25 and ~100 generated tokens per second, because
prefill dominates short answers.

Every method returns raw continuations (text after the prompt); callers extract answers.
Prompts are batched by length (less padding) and results returned in input order.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Sequence

from factgap.runtime import progress

log = logging.getLogger(__name__)


def length_sorted_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), deterministic (pure).

    ``max_tokens`` also caps a batch's padded size (rows x its longest length; a longer single row
    still gets a batch of its own): on a CPU a batch of one long and many short prompts costs more
    than scoring them one by one, the padding is computed too.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    if max_tokens is None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    for i in order:
        # longest first: the batch's first row sets its padded width
        if batches and len(batches[-1]) < batch_size and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def batch_seed(seed: int, batch_prompts: Sequence[str]) -> int:
    """Sampling seed of a batch: depends on the run seed and the batch content only."""
    digest = hashlib.sha256(str(seed).encode())
    for prompt in batch_prompts:
        digest.update(prompt.encode())
        digest.update(b"\x00")
    return int.from_bytes(digest.digest()[:8], "big") % (2**63)


class HFBackend:
    """Generation with a transformers causal LM (optionally a PEFT model)."""

    name = "hf"

    def __init__(
        self, model, tokenizer, stop: Sequence[str] = ("\n",), show_progress: bool = True, drop_finished: bool = True
    ):
        self.model = model
        self.drop_finished = drop_finished
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.stop = list(stop)
        self.show_progress = show_progress

    @property
    def device(self):
        return next(self.model.parameters()).device

    # Prompts are tokenised as the tokenizer does by default (a BOS token where the model expects
    # one, e.g. Llama-3), as in training.
    def _encode(self, prompts: Sequence[str]):
        enc = self.tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=True)
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def _decode_new(self, output_ids, prompt_len: int) -> list[str]:
        return self.tokenizer.batch_decode(output_ids[:, prompt_len:], skip_special_tokens=True)

    def _generate_kwargs(self, max_new_tokens: int, stop: Sequence[str] | None) -> dict:
        stop = self.stop if stop is None else list(stop)
        kwargs = {
            "max_new_tokens": max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "top_p": 1.0,
            "repetition_penalty": 1.0,
        }
        if stop:
            kwargs.update(stop_strings=stop, tokenizer=self.tokenizer)
        return kwargs

    def _lengths(self, prompts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(list(prompts), add_special_tokens=True)["input_ids"]]

    def _prefill(self, input_ids, attention_mask, cache=None):
        """KV cache of all prompt tokens but the last (the decoding loop feeds the last one itself);
        a ``cache`` that holds a prefix of the prompts is extended.
        ``logits_to_keep=1``: only the cache is used, so skip projecting every prompt position onto
        the vocabulary (a fifth of a small model's prefill FLOPs)."""
        import torch
        from transformers import DynamicCache

        if cache is None:
            cache = DynamicCache(config=self.model.config)
        start = cache.get_seq_length()
        if start >= input_ids.shape[1] - 1:
            return cache
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            self.model(
                input_ids=input_ids[:, start:-1],
                attention_mask=attention_mask[:, :-1],
                position_ids=position_ids[:, start:-1],
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        return cache

    def _decode(self, input_ids, attention_mask, cache, do_sample: bool, kwargs: dict):
        """``generate``'s output for these inputs: through ``decode_dropping_finished`` where it
        reproduces ``generate`` (``drop_finished``), else ``generate`` itself."""
        import torch

        plan = decoding_plan(self.model, self.tokenizer, kwargs, do_sample, input_ids) if self.drop_finished else None
        if plan is None:
            with torch.inference_mode():
                return self.model.generate(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    past_key_values=cache,
                    do_sample=do_sample,
                    **kwargs,
                )
        cache = self._prefill(input_ids, attention_mask, cache)
        return decode_dropping_finished(
            self.model, input_ids, attention_mask, cache, plan, kwargs["max_new_tokens"], do_sample
        )

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
        """Greedy continuations. ``groups`` (one key per prompt, e.g. the relation whose fixed
        few-shot exemplars open the prompt) lets prompts of a group share the prefill of their
        common token prefix: same output, a fraction of the compute for long shared prefixes."""

        if groups is not None:
            return self._greedy_shared_prefix(prompts, groups, max_new_tokens, batch_size, stop, desc)
        results: list[str] = [""] * len(prompts)
        batches = length_sorted_batches(self._lengths(prompts), batch_size)
        for batch in progress(batches, desc, self.show_progress):
            ids, mask = self._encode([prompts[i] for i in batch])
            out = self._decode(ids, mask, None, False, self._generate_kwargs(max_new_tokens, stop))
            for i, text in zip(batch, self._decode_new(out, ids.shape[1])):
                results[i] = text
        return results

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
        """One greedy continuation and ``n_samples`` sampled ones per prompt, sharing the prefill
        (``top_k`` 0 and ``top_p`` 1 leave the sampling distribution whole)."""
        import torch

        greedy: list[str] = [""] * len(prompts)
        samples: list[list[str]] = [[] for _ in prompts]
        kwargs = self._generate_kwargs(max_new_tokens, stop)
        batches = length_sorted_batches(self._lengths(prompts), batch_size)
        for batch in progress(batches, desc, self.show_progress):
            batch_prompts = [prompts[i] for i in batch]
            ids, mask = self._encode(batch_prompts)
            cache = self._prefill(ids, mask)
            out = self._decode(ids, mask, copy.deepcopy(cache) if n_samples else cache, False, kwargs)
            for i, text in zip(batch, self._decode_new(out, ids.shape[1])):
                greedy[i] = text
            if not n_samples:
                continue
            cache.batch_repeat_interleave(n_samples)
            torch.manual_seed(batch_seed(seed, batch_prompts))
            out = self._decode(
                ids.repeat_interleave(n_samples, 0),
                mask.repeat_interleave(n_samples, 0),
                cache,
                True,
                {**kwargs, "temperature": temperature, "top_k": top_k, "top_p": top_p},
            )
            texts = self._decode_new(out, ids.shape[1])
            for j, i in enumerate(batch):
                samples[i] = texts[j * n_samples : (j + 1) * n_samples]
        return greedy, samples

    def _greedy_shared_prefix(self, prompts, groups, max_new_tokens, batch_size, stop, desc) -> list[str]:
        import torch
        from transformers import DynamicCache

        if len(groups) != len(prompts):
            raise ValueError("one group key per prompt")
        token_ids = self.tokenizer(list(prompts), add_special_tokens=True)["input_ids"]
        members: dict[str, list[int]] = {}
        for i, key in enumerate(groups):
            members.setdefault(key, []).append(i)
        work = []  # (prefix ids, batch of prompt indices)
        for key in sorted(members):
            idx = members[key]
            n = common_prefix_length([token_ids[i] for i in idx])
            n = min(n, min(len(token_ids[i]) for i in idx) - 1)  # every prompt keeps >= 1 own token
            ordered = sorted(idx, key=lambda i: (-len(token_ids[i]), i))
            work += [(token_ids[idx[0]][:n], ordered[j : j + batch_size]) for j in range(0, len(ordered), batch_size)]
        results: list[str] = [""] * len(prompts)
        kwargs = self._generate_kwargs(max_new_tokens, stop)
        pad = self.tokenizer.pad_token_id
        prefix_cache: dict[tuple, object] = {}
        for prefix, batch in progress(work, desc, self.show_progress):
            key = tuple(prefix)
            if key not in prefix_cache:
                prefix_cache.clear()  # groups are processed in order: keep one prefix cache alive
                cache = DynamicCache(config=self.model.config)
                if prefix:
                    with torch.inference_mode():
                        self.model(
                            input_ids=torch.tensor([prefix], device=self.device),
                            past_key_values=cache,
                            use_cache=True,
                            logits_to_keep=1,
                        )
                prefix_cache[key] = cache
            suffixes = [token_ids[i][len(prefix) :] for i in batch]
            width = max(len(x) for x in suffixes)
            rows = [list(prefix) + [pad] * (width - len(x)) + x for x in suffixes]
            mask = [[1] * len(prefix) + [0] * (width - len(x)) + [1] * len(x) for x in suffixes]
            ids = torch.tensor(rows, device=self.device)
            attention = torch.tensor(mask, device=self.device)
            cache = copy.deepcopy(prefix_cache[key])
            if prefix:
                cache.batch_repeat_interleave(len(batch))
            out = self._decode(ids, attention, cache if prefix else None, False, kwargs)
            for i, text in zip(batch, self._decode_new(out, ids.shape[1])):
                results[i] = text
        return results


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token-id sequences (pure)."""
    if not sequences:
        return 0
    first = sequences[0]
    n = min(len(s) for s in sequences)
    for k in range(n):
        if any(s[k] != first[k] for s in sequences[1:]):
            return k
    return n


# The generation-config fields we can reproduce in our own decoding loop: the sampling warpers
# (temperature, top-k, top-p) and stopping on stop strings / EOS. Anything else (penalties, forced or
# suppressed tokens, beams, ...) goes through ``generate`` itself.
FAST_DECODING_PROCESSORS = ("TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper")


def decoding_plan(model, tokenizer, kwargs: dict, do_sample: bool, prompt_ids):
    """(logits processors, stopping criteria, eos ids, pad id) that ``generate`` would use for
    ``kwargs``, or None when it would use something ``decode_dropping_finished`` does not reproduce."""
    import torch
    from transformers.generation.stopping_criteria import EosTokenCriteria, StopStringCriteria

    try:
        config = copy.deepcopy(model.generation_config)
        config.update(do_sample=do_sample, **{k: v for k, v in kwargs.items() if k != "tokenizer"})
        model._prepare_special_tokens(config, True, device=prompt_ids.device)
        processors = model._get_logits_processor(
            generation_config=config,
            input_ids_seq_length=prompt_ids.shape[1],
            encoder_input_ids=prompt_ids,
            device=prompt_ids.device,
            model_kwargs={},
        )
    except (AttributeError, TypeError, ValueError) as err:  # another transformers version: use generate
        log.warning("decoding through generate: %s", err)
        return None
    if (
        (config.num_beams or 1) > 1
        or config.max_time is not None
        or config._eos_token_tensor is None
        or config._pad_token_tensor is None
        or any(type(p).__name__ not in FAST_DECODING_PROCESSORS for p in processors)
    ):
        return None
    eos = config._eos_token_tensor
    criteria = [EosTokenCriteria(eos_token_id=eos)]
    if config.stop_strings:
        criteria.insert(0, StopStringCriteria(tokenizer=tokenizer, stop_strings=config.stop_strings))
    return processors, criteria, int(config._pad_token_tensor), torch.device(prompt_ids.device)


def decode_dropping_finished(model, input_ids, attention_mask, cache, plan, max_new_tokens: int, do_sample: bool):
    """What ``generate`` returns for left-padded ``input_ids`` (prompt ids + new ids, finished rows
    padded), computing only the rows still running: a row that hit a stop string or EOS leaves the
    batch and its KV cache is dropped. ``generate`` keeps computing every row until the last one
    finishes, so short answers in a batch with one long one cost as much as long ones.

    ``cache`` holds every prompt token but the last (``HFBackend._prefill``). Sampling draws from the
    full batch's probabilities at every step, finished rows included, so the random stream (and the
    samples) are those of ``generate`` with the same seed."""
    import torch

    processors, criteria, pad_id, device = plan
    rows = input_ids.shape[0]
    sequences = input_ids
    running = torch.arange(rows, device=device)  # batch rows still generating, in cache order
    mask = attention_mask
    feed = input_ids[:, -1:]
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            positions = mask.long().sum(-1, keepdim=True) - 1
            logits = (
                model(
                    input_ids=feed, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True
                )
                .logits[:, -1]
                .to(torch.float32)
            )
            step = torch.full((rows,), pad_id, dtype=torch.long, device=device)
            if do_sample:
                # every row's probabilities, in generate's shape, so the draws consume the random
                # stream as generate's do; finished rows get a uniform row (its draw is discarded)
                scores = torch.zeros((rows, logits.shape[-1]), dtype=torch.float32, device=device)
                scores[running] = logits
                scores = processors(sequences, scores)
                drawn = torch.multinomial(torch.nn.functional.softmax(scores, dim=-1), num_samples=1).squeeze(1)
                step[running] = drawn[running]
            else:
                step[running] = torch.argmax(processors(sequences[running], logits), dim=-1)
            sequences = torch.cat([sequences, step[:, None]], dim=-1)
            done = torch.zeros(len(running), dtype=torch.bool, device=device)
            for criterion in criteria:
                done |= criterion(sequences[running], None)
            if bool(done.all()):
                break
            keep = (~done).nonzero().squeeze(1)
            if len(keep) < len(running):
                cache.batch_select_indices(keep)
                running, mask = running[keep], mask[keep]
            feed = sequences[running, -1:]
            mask = torch.cat([mask, torch.ones((len(running), 1), dtype=mask.dtype, device=device)], dim=-1)
    return sequences
