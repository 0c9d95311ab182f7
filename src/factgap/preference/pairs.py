"""Preference pairs for S3 (pure): general, atomic, mixed, KTO-unpaired and RSO-sampled.

* General pairs (FactTune rule, kttian/llm_factuality_tuning): for the scored responses of one
  prompt, every (i, j) with ``score_i > score_j + threshold``; ties never pair; NaN scores (the
  scorer abstained, e.g. a response without checkable facts) are left out; an optional per-prompt
  cap keeps a seeded choice of the pairs.
* Atomic pairs (APEFT): a fact the model was asked about S times, with r = share of correct
  samples. Only potentially-known facts (``r_low < r < r_high``, default 0 < r < 1) give a pair:
  the model sometimes knows them, so preferring its correct answer over its own wrong one is
  a signal it can act on. Known facts need no push and unknown facts cannot be recovered from
  the model's samples.
* Mixing at a configurable atomic : general ratio; KTO's unpaired rows; RSO's statistical
  rejection sampling (Liu et al. 2023) over given scores.

Every random choice uses ``random.Random(f"{seed}:{key}")`` with a key of the prompt or the
fact, so a result does not depend on the order of the input rows or on PYTHONHASHSEED.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import pyarrow as pa

from factgap.text import normalize_answer

SOURCES = ("general", "atomic")
REJECTED_FROM = ("model", "other_entity")
CHOSEN_FROM = ("sample", "expected")
KTO_CONFLICTS = ("keep", "drop", "majority")

PAIR_SCHEMA = pa.schema(
    [
        pa.field("pair_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("chosen", pa.string(), nullable=False),
        pa.field("rejected", pa.string(), nullable=False),
        pa.field("origin_id", pa.string()),  # prompt id (general) or fact id (atomic)
        pa.field("chosen_score", pa.float64()),  # FActScore of the responses (general); r of the fact (atomic)
        pa.field("rejected_score", pa.float64()),
    ]
)

KTO_SCHEMA = pa.schema(
    [
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("completion", pa.string(), nullable=False),
        pa.field("label", pa.bool_(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)


def make_pair_id(source: str, prompt: str, chosen: str, rejected: str) -> str:
    """Content-derived id: the same pair gets the same id in every run."""
    digest = hashlib.sha1("\x1f".join((source, prompt, chosen, rejected)).encode()).hexdigest()[:16]
    return f"{source[0]}-{digest}"


def _pair(
    source: str,
    prompt: str,
    chosen: str,
    rejected: str,
    origin_id: str | None = None,
    chosen_score: float | None = None,
    rejected_score: float | None = None,
) -> dict[str, Any]:
    return {
        "pair_id": make_pair_id(source, prompt, chosen, rejected),
        "source": source,
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "origin_id": origin_id,
        "chosen_score": chosen_score,
        "rejected_score": rejected_score,
    }


def _rng(seed: int, key: str) -> random.Random:
    return random.Random(f"{seed}:{key}")


def _is_nan(x: Any) -> bool:
    """None or NaN: a response the scorer abstained on."""
    return x is None or math.isnan(float(x))


def general_pairs(
    prompt: str,
    responses: Sequence[str],
    scores: Sequence[float | None],
    threshold: float = 0.0,
    max_pairs: int | None = None,
    seed: int = 0,
    origin_id: str | None = None,
) -> list[dict[str, Any]]:
    """All (higher, lower) pairs of one prompt's responses with ``score_i > score_j + threshold``.

    Identical response texts never pair, and a (chosen, rejected) text pair appears once.
    ``max_pairs`` keeps a seeded random subset (in the original order) when there are more; which
    pairs it keeps depends on the seed, the prompt and the set of responses, not on their order.
    """
    if len(responses) != len(scores):
        raise ValueError(f"{len(responses)} responses but {len(scores)} scores")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    kept = [(text, float(score)) for text, score in zip(responses, scores) if not _is_nan(score)]
    candidates, seen = [], set()
    for i, (chosen, s_c) in enumerate(kept):
        for j, (rejected, s_r) in enumerate(kept):
            if i == j or chosen == rejected or not s_c > s_r + threshold or (chosen, rejected) in seen:
                continue
            seen.add((chosen, rejected))
            candidates.append((chosen, rejected, s_c, s_r))
    if max_pairs is not None and len(candidates) > max_pairs:
        # sample from a canonical order, so that the choice does not depend on the responses' order
        canonical = sorted((c[0], c[1]) for c in candidates)
        keep = set(_rng(seed, prompt).sample(canonical, max_pairs))
        candidates = [c for c in candidates if (c[0], c[1]) in keep]
    return [_pair("general", prompt, c, r, origin_id, s_c, s_r) for c, r, s_c, s_r in candidates]


def general_pairs_from_rows(
    rows: Iterable[Mapping[str, Any]], threshold: float = 0.0, max_pairs: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """General pairs from scored response rows ``{prompt, response, score[, prompt_id]}``, per prompt.

    Prompts are processed in sorted order, responses in input order (which only orders the output).
    """
    return _pairs_per_prompt(rows, partial(general_pairs, threshold=threshold, max_pairs=max_pairs, seed=seed))


def _pairs_per_prompt(
    rows: Iterable[Mapping[str, Any]], pairs_of: Callable[..., list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """``pairs_of(prompt, responses, scores, origin_id=...)`` per prompt of scored response rows
    ``{prompt, response, score[, prompt_id]}``: prompts in sorted order, responses in input order."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["prompt"], []).append(row)
    out = []
    for prompt in sorted(groups):
        group = groups[prompt]
        out += pairs_of(
            prompt, [r["response"] for r in group], [r["score"] for r in group], origin_id=group[0].get("prompt_id")
        )
    return out


def _fact_prompt(fact: Mapping[str, Any]) -> str:
    prompt = fact.get("prompt", fact.get("question"))
    if not prompt:
        raise KeyError(f"fact {fact.get('fact_id')!r} has neither 'prompt' nor 'question'")
    return prompt


def fact_r(fact: Mapping[str, Any]) -> float:
    """The fact's r: given, or the share of correct samples."""
    if fact.get("r") is not None:
        return float(fact["r"])
    samples = fact.get("samples") or []
    return sum(bool(s["correct"]) for s in samples) / len(samples) if samples else math.nan


def _most_frequent(answers: Sequence[str]) -> str | None:
    """The most frequent answer by normalised text (ties: first seen), in its first surface form."""
    answers = [a.strip() for a in answers if a and normalize_answer(a)]
    if not answers:
        return None
    counts = Counter(normalize_answer(a) for a in answers)
    best = max(counts.values())
    return next(a for a in answers if counts[normalize_answer(a)] == best)


def is_potentially_known(r: float, r_low: float = 0.0, r_high: float = 1.0) -> bool:
    return not math.isnan(r) and r_low < r < r_high


def atomic_pairs(
    facts: Sequence[Mapping[str, Any]],
    rejected_from: str = "model",
    chosen_from: str = "sample",
    r_low: float = 0.0,
    r_high: float = 1.0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One (correct, wrong) answer pair per potentially-known fact.

    A fact: ``{fact_id, prompt (or question), expected_answer, samples: [{answer, correct}], r,
    slot, entity}`` (``r`` defaults to the share of correct samples; ``slot``/``entity`` are needed
    for ``rejected_from="other_entity"`` only).

    chosen: the model's most frequent correct sample (``chosen_from="sample"``, falling back to
    the expected answer) or the expected answer. rejected: the model's most frequent wrong sample
    (``"model"``: the hallucination it actually produces) or a seeded choice among other entities'
    expected answers for the same slot (``"other_entity"``: a plausible contradiction that the model
    may not produce). Facts without a usable rejected answer are skipped.
    """
    if rejected_from not in REJECTED_FROM:
        raise ValueError(f"rejected_from {rejected_from!r} is not one of {REJECTED_FROM}")
    if chosen_from not in CHOSEN_FROM:
        raise ValueError(f"chosen_from {chosen_from!r} is not one of {CHOSEN_FROM}")
    by_slot: dict[str, list[tuple[str, str]]] = {}
    if rejected_from == "other_entity":
        for fact in facts:
            if fact.get("slot") is not None and fact.get("expected_answer"):
                by_slot.setdefault(fact["slot"], []).append((str(fact.get("entity")), fact["expected_answer"]))
    out = []
    for fact in facts:
        r = fact_r(fact)
        if not is_potentially_known(r, r_low, r_high):
            continue
        prompt, expected = _fact_prompt(fact), fact.get("expected_answer") or ""
        samples = fact.get("samples") or []
        chosen = _most_frequent([s["answer"] for s in samples if s["correct"]]) if chosen_from == "sample" else None
        chosen = chosen or expected.strip()
        if not chosen:
            continue
        if rejected_from == "model":
            rejected = _most_frequent([s["answer"] for s in samples if not s["correct"]])
        else:
            options = sorted(
                {
                    value
                    for entity, value in by_slot.get(fact.get("slot"), [])
                    if entity != str(fact.get("entity"))
                    and normalize_answer(value) not in {normalize_answer(chosen), normalize_answer(expected)}
                }
            )
            key = str(fact.get("fact_id", prompt))
            rejected = _rng(seed, key).choice(options) if options else None
        if not rejected or normalize_answer(rejected) == normalize_answer(chosen):
            continue
        out.append(_pair("atomic", prompt, chosen, rejected, fact.get("fact_id"), r, None))
    return out


def mix_pairs(
    general: Sequence[Mapping[str, Any]],
    atomic: Sequence[Mapping[str, Any]],
    atomic_per_general: float | None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Every general pair plus atomic pairs, ``atomic_per_general`` of them per general pair, shuffled (seeded).

    APEFT mixes atomic preferences *into* the general ones: the mixture keeps every pair of the
    general-only set, so "general+atomic" vs "general" differs by the atomic pairs alone. The atomic
    pairs are ``min(available, round(ratio * n_general))``, a seeded choice (fewer than the ratio when
    there are not enough). ``None`` keeps every pair of both; ``0`` only general; ``math.inf`` only
    atomic (the atomic pair set).
    """
    general, atomic = list(general), list(atomic)
    rng = random.Random(f"{seed}:mix")
    if atomic_per_general is None:
        n_gen, n_atom = len(general), len(atomic)
    elif atomic_per_general < 0 or math.isnan(atomic_per_general):
        raise ValueError(f"atomic_per_general must be >= 0, got {atomic_per_general}")
    elif math.isinf(atomic_per_general):
        n_gen, n_atom = 0, len(atomic)
    else:
        n_gen, n_atom = len(general), min(len(atomic), round(atomic_per_general * len(general)))
    chosen = [general[k] for k in sorted(rng.sample(range(len(general)), n_gen))] + [
        atomic[k] for k in sorted(rng.sample(range(len(atomic)), n_atom))
    ]
    rng.shuffle(chosen)
    return [dict(p) for p in chosen]


def kto_rows(pairs: Sequence[Mapping[str, Any]], on_conflict: str = "keep") -> list[dict[str, Any]]:
    """KTO's unpaired rows: each pair gives ``(prompt, chosen, True)`` and ``(prompt, rejected, False)``.

    Rows repeated across pairs are kept once (first occurrence order). With all-pairs general
    data a middle-scored response is chosen in one pair and rejected in another: ``on_conflict``
    keeps both labels (``"keep"``, what a plain conversion does), drops the response
    (``"drop"``), or keeps the label it has more often and drops ties (``"majority"``).
    """
    if on_conflict not in KTO_CONFLICTS:
        raise ValueError(f"on_conflict {on_conflict!r} is not one of {KTO_CONFLICTS}")
    rows: dict[tuple[str, str, bool], dict[str, Any]] = {}
    votes: Counter[tuple[str, str, bool]] = Counter()
    for p in pairs:
        for completion, label in ((p["chosen"], True), (p["rejected"], False)):
            key = (p["prompt"], completion, label)
            votes[key] += 1
            rows.setdefault(
                key,
                {"prompt": p["prompt"], "completion": completion, "label": label, "source": p.get("source", "general")},
            )
    out = []
    for (prompt, completion, label), row in rows.items():
        mine, other = votes[(prompt, completion, label)], votes.get((prompt, completion, not label), 0)
        if other and (on_conflict == "drop" or (on_conflict == "majority" and mine <= other)):
            continue
        out.append(row)
    return out


def rso_accept(
    scores: Sequence[float | None], beta: float, seed: int = 0, num_samples: int | None = None, key: str = ""
) -> list[int]:
    """Indices accepted by RSO's statistical rejection sampling (Liu et al. 2023, Algorithm 1).

    Candidate i is accepted with probability ``exp((r_i - r_max) / beta)``, so the accepted set
    approximates the optimal policy ``pi*(y|x) ~ pi_sft(y|x) exp(r(y, x) / beta)`` from the SFT
    policy's samples. ``num_samples=None``: one pass over the candidates (the best always passes).
    ``num_samples=m``: the paper's loop: passes over the remaining candidates, ``r_max`` recomputed
    each pass, until m are accepted (or none remain). NaN scores are never accepted. Returned in
    acceptance order.
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    remaining = [i for i, s in enumerate(scores) if not _is_nan(s)]
    rng = _rng(seed, f"rso:{key}")
    accepted: list[int] = []
    target = len(remaining) if num_samples is None else min(num_samples, len(remaining))
    while remaining and len(accepted) < target:
        r_max = max(float(scores[i]) for i in remaining)
        taken = []
        for i in remaining:
            if rng.random() < math.exp((float(scores[i]) - r_max) / beta):
                taken.append(i)
                if num_samples is not None and len(accepted) + len(taken) == target:
                    break
        accepted += taken
        remaining = [i for i in remaining if i not in set(taken)]
        if num_samples is None:
            break
    return accepted


def rso_pairs(
    prompt: str,
    responses: Sequence[str],
    scores: Sequence[float | None],
    beta: float,
    seed: int = 0,
    num_samples: int | None = None,
    threshold: float = 0.0,
    max_pairs: int | None = None,
    origin_id: str | None = None,
) -> list[dict[str, Any]]:
    """RSO's training pairs for one prompt: rejection-sample the responses, then pair the accepted
    ones by score with the general rule (``score_i > score_j + threshold``)."""
    accepted = sorted(rso_accept(scores, beta, seed, num_samples, key=prompt))
    return general_pairs(
        prompt, [responses[i] for i in accepted], [scores[i] for i in accepted], threshold, max_pairs, seed, origin_id
    )


def rso_pairs_from_rows(
    rows: Iterable[Mapping[str, Any]],
    beta: float,
    seed: int = 0,
    num_samples: int | None = None,
    threshold: float = 0.0,
    max_pairs: int | None = None,
) -> list[dict[str, Any]]:
    """``rso_pairs`` per prompt over scored response rows ``{prompt, response, score[, prompt_id]}``."""
    return _pairs_per_prompt(
        rows,
        partial(rso_pairs, beta=beta, seed=seed, num_samples=num_samples, threshold=threshold, max_pairs=max_pairs),
    )


def pairs_table(pairs: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Pair records as a table with the stable ``PAIR_SCHEMA``."""
    return pa.Table.from_pylist([{f.name: p.get(f.name) for f in PAIR_SCHEMA} for p in pairs], schema=PAIR_SCHEMA)


def kto_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in KTO_SCHEMA} for r in rows], schema=KTO_SCHEMA)
