"""A labelled claim set from the knowledge source itself, to measure a verifier.

True claims state an entity's own slot ("Albert Camus was born in 1913."); false claims put
another entity's value of the same slot in its place ("Albert Camus was born in 1860."), the
value chosen so that it cannot also be true (a different year, no shared nationality or
occupation word, a different place). Claims are split dev/test by entity, seeded: calibrate on
dev (e.g. the LLM verifier's threshold), report on test.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from factgap.factscore.lexicon import OCCUPATION_HYPERNYMS
from factgap.text import normalize_answer

CLAIM_SLOTS = ("birth_year", "death_year", "nationality", "occupation", "birth_place", "field", "prize_year")

# the sentence per slot; ``value`` as claim_text renders it
_CLAIM_TEMPLATES = {
    "birth_year": "{name} was born in {value}.",
    "death_year": "{name} died in {value}.",
    "nationality": "{name} was {value}.",
    "occupation": "{name} was {article} {value}.",
    "birth_place": "{name} was born in {value}.",
    "field": "{name} received the Nobel Prize in {value}.",
    "prize_year": "{name} received the Nobel Prize in {value}.",
}

_FIELD_WORDS = {
    "physics": "Physics",
    "chemistry": "Chemistry",
    "physiology or medicine": "Physiology or Medicine",
    "literature": "Literature",
    "peace": "Peace",
    "economic sciences": "Economic Sciences",
}


class Claim(TypedDict):
    claim_id: str
    entity_id: str
    tier: str
    slot: str
    value: str
    text: str
    label: bool
    split: str


def _year_words(year: int) -> str:
    return f"{abs(year)} BC" if year < 0 else f"AD {year}" if year < 100 else str(year)


def claim_text(name: str, slot: str, value: Any) -> str:
    """The sentence stating ``slot = value`` of ``name``."""
    if slot not in _CLAIM_TEMPLATES:
        raise ValueError(f"no claim template for slot {slot!r}")
    if slot in ("birth_year", "death_year"):
        value = _year_words(int(value))
    elif slot == "field":
        value = _FIELD_WORDS.get(str(value), str(value).title())
    article = "an" if str(value)[:1].lower() in "aeiou" else "a"
    return _CLAIM_TEMPLATES[slot].format(name=name, value=value, article=article)


def first_occupation(occupation: str) -> str:
    """The first item of "philosopher, novelist and poet" (a claim states one occupation);
    "military and political leader" gives "military leader"."""
    items = [i.strip() for i in re.split(r",\s*|\s+and\s+|\s+or\s+", occupation.strip()) if i.strip()]
    if not items:
        return ""
    if len(items) > 1 and len(items[0].split()) == 1 and len(items[-1].split()) > 1:
        return f"{items[0]} {items[-1].split()[-1]}"
    return items[0]


def _claim_value(slot: str, value: Any) -> str | None:
    if "?" in str(value) or (slot not in ("birth_year", "death_year", "prize_year") and re.search(r"\d", str(value))):
        return None  # damaged characters in the source, or "8th-century philosopher"
    if slot == "occupation":  # one plain occupation: "prophet", not "prophet in Abrahamic religions"
        value = first_occupation(re.split(r"\s+(?:of|in|who|under|to|for|from|with)\s+", str(value))[0])
        ok = value and len(value.split()) <= 4 and not any(w[:1].isupper() for w in value.split())
        return value if ok else None
    if slot == "nationality":
        return str(value).split(" and ")[0]
    return str(value) if value not in (None, "") else None


def _tokens(value: str) -> set[str]:
    return set(normalize_answer(re.sub(r"[-\u2013]", " ", value)).split())


def _compatible(slot: str, entity: Mapping[str, Any], false_value: str) -> bool:
    """Could ``false_value`` also be true of the entity? Then it may not serve as a false claim.

    Years and fields must differ; a name-like value must share no word with the entity's own
    value of the slot, nor appear in its description or knowledge ("writer" is true of a
    novelist whose lead calls her a writer).
    """
    true_value = str(entity["facts"][slot])
    if slot in ("birth_year", "death_year", "prize_year"):
        return int(true_value) == int(false_value)
    if slot == "field":
        return normalize_answer(true_value) == normalize_answer(false_value)
    if _tokens(true_value) & _tokens(false_value):
        return True
    text = normalize_answer(" ".join([entity.get("description", ""), *entity.get("knowledge", [])]))
    words = set(text.split())
    trades = set().union(*(OCCUPATION_HYPERNYMS.get(t, frozenset()) for t in _tokens(false_value)))
    return bool(_tokens(false_value) & words) or bool(trades & words)


def build_claims(
    entities: Sequence[Mapping[str, Any]],
    seed: int,
    dev_fraction: float = 0.5,
    slots: Sequence[str] = CLAIM_SLOTS,
    max_tries: int = 50,
) -> list[Claim]:
    """One true and one false claim per (entity, slot) with a usable value; balanced labels.

    A false value is drawn (seeded) from the other entities' values of the same slot until one
    is incompatible with the entity's own (``max_tries``; skipped if none is found).
    """
    if not 0 <= dev_fraction <= 1:
        raise ValueError("dev_fraction must be in [0, 1]")
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {}
    for entity in entities:
        for slot in slots:
            if slot in entity.get("facts", {}):
                value = _claim_value(slot, entity["facts"][slot])
                if value is not None:
                    pools.setdefault(slot, []).append(value)
    ids = sorted(e["entity_id"] for e in entities)
    order = ids[:]
    random.Random(f"{seed}:split").shuffle(order)
    n_dev = round(dev_fraction * len(order))
    split_of = {eid: ("dev" if i < n_dev else "test") for i, eid in enumerate(order)}
    claims: list[Claim] = []
    for entity in sorted(entities, key=lambda e: e["entity_id"]):
        for slot in slots:
            if slot not in entity.get("facts", {}):
                continue
            value = _claim_value(slot, entity["facts"][slot])
            if value is None:
                continue
            false_value = None
            for _ in range(max_tries):
                candidate = rng.choice(pools[slot])
                if not _compatible(slot, entity, candidate):
                    false_value = candidate
                    break
            if false_value is None:
                continue
            for label, v in ((True, value), (False, false_value)):
                claims.append(
                    Claim(
                        claim_id=f"{entity['entity_id']}|{slot}|{int(label)}",
                        entity_id=entity["entity_id"],
                        tier=entity["tier"],
                        slot=slot,
                        value=v,
                        text=claim_text(entity["name"], slot, v),
                        label=label,
                        split=split_of[entity["entity_id"]],
                    )
                )
    return claims


# ---------------------------------------------------------------------------------------------
# Metrics


def accuracy(predictions: Sequence[bool], labels: Sequence[bool]) -> float:
    if len(predictions) != len(labels) or not labels:
        raise ValueError("need as many predictions as labels, at least one")
    return sum(bool(p) == bool(y) for p, y in zip(predictions, labels)) / len(labels)


def _average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        for t in range(i, j + 1):
            ranks[order[t]] = mean_rank
        i = j + 1
    return ranks


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney U) formula, ties counting 1/2.

    Equals the probability that a random positive scores above a random negative.
    """
    if len(scores) != len(labels):
        raise ValueError("need as many labels as scores")
    n_pos = sum(1 for y in labels if y)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative label")
    ranks = _average_ranks([float(s) for s in scores])
    rank_sum = sum(r for r, y in zip(ranks, labels) if y)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
