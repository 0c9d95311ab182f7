"""Is an atomic fact supported by the entity's knowledge? (FActScore step 3)

* ``rules`` (offline default; no model on PyPI judges well): compare the fact's slot and value
  with what is known of the entity (its structured slots, plus the slots the rule extractor
  reads out of its knowledge texts) and the retrieved passages. Years and dates must match,
  names, places, nationalities and occupations are matched by normalised token overlap; a fact
  without a slot is supported when its content words and numbers are in one passage.
  Labels: supported / contradicted / not_supported, with a score in [0, 1] for AUC.
* ``llm``: FActScore's "True or False?" prompt, decided by log P(True) - log P(False) against a
  threshold calibrated on a dev set; calls go through a disk cache keyed by sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from factgap.factscore.atomic import extract_facts_rules, years_in
from factgap.factscore.lexicon import DEMONYMS, OCCUPATION_HYPERNYMS, STOPWORDS, demonym_countries
from factgap.factscore.retrieval import retrieve
from factgap.text import normalize_answer

SUPPORTED, CONTRADICTED, NOT_SUPPORTED = "supported", "contradicted", "not_supported"

log = logging.getLogger(__name__)

_YEAR_SLOTS = frozenset({"birth_year", "death_year", "prize_year"})
LABELS = (SUPPORTED, CONTRADICTED, NOT_SUPPORTED)


class Verdict(TypedDict):
    label: str
    score: float  # 1 = supported by a slot, 0 = contradicted, in between: overlap evidence
    reason: str


# ---------------------------------------------------------------------------------------------
# What is known of an entity


def knowledge_slots(entity: Mapping[str, Any], use_structured: bool = True) -> dict[str, list[Any]]:
    """slot -> known values: the structured facts first, then what the rule extractor reads in
    the knowledge texts ("X was a French philosopher, novelist ..." gives several occupations).

    With ``use_structured=False`` only the texts count (a check of retrieval + matching alone).
    """
    slots: dict[str, list[Any]] = {}
    if use_structured:
        for slot, value in entity.get("facts", {}).items():
            slots.setdefault(slot, []).append(value)
    for text in entity.get("knowledge", []):
        for fact in extract_facts_rules(text, entity["name"], drop_truncated=False):
            if fact["slot"] and fact["value"] is not None:
                values = slots.setdefault(fact["slot"], [])
                value = int(fact["value"]) if fact["slot"] in _YEAR_SLOTS else fact["value"]
                if value not in values:
                    values.append(value)
    # a full date also tells the year
    for kind in ("birth", "death"):
        for date in slots.get(f"{kind}_date", []):
            year = _date_parts(str(date))[0]
            if year is not None and year not in [_as_int(v) for v in slots.get(f"{kind}_year", [])]:
                slots.setdefault(f"{kind}_year", []).append(year)
    return slots


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _date_parts(value: str) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) of "1879", "1879-03", "1879-03-14" or "-384"."""
    m = re.fullmatch(r"(-?\d{1,4})(?:-(\d{2}))?(?:-(\d{2}))?", value.strip())
    if not m:
        return None, None, None
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None, int(m.group(3)) if m.group(3) else None


def _stem(token: str) -> str:
    """Light stemming so "physicist"/"physicists", "poets"/"poet" meet."""
    for suffix in ("ies", "es", "s"):
        if token.endswith(suffix) and len(token) > len(suffix) + 3:
            return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


def content_tokens(text: str, exclude: Sequence[str] = ()) -> set[str]:
    drop = {_stem(t) for t in exclude}
    return {_stem(t) for t in normalize_answer(text).split() if t not in STOPWORDS} - drop


def _demonym_set(text: str) -> set[str]:
    """Normalised demonym parts of a nationality ("Polish-French" -> {"polish", "french"})."""
    parts = re.split(r"[\s\-\u2013]+|\band\b", text)
    return {normalize_answer(p) for p in parts if p and normalize_answer(p) not in ("", "and", "born")}


# ---------------------------------------------------------------------------------------------
# The rules verifier


def _verdict(label: str, score: float, reason: str) -> Verdict:
    return Verdict(label=label, score=round(float(score), 4), reason=reason)


def _overlap_verdict(
    fact_text: str, name: str, passages: Sequence[str], threshold: float, reason: str = "overlap"
) -> Verdict:
    """Support from one passage holding the fact's content words and all of its years."""
    wanted = content_tokens(fact_text, exclude=normalize_answer(name).split())
    years = years_in(fact_text)
    if not wanted:
        return _verdict(NOT_SUPPORTED, 0.5, "no content")
    best = 0.0
    for passage in passages:
        have = content_tokens(passage)
        coverage = len(wanted & have) / len(wanted)
        if any(str(abs(y)) not in passage for y in years):
            coverage *= 0.5  # a number the passage does not state
        best = max(best, coverage)
    score = 0.1 + 0.8 * best
    return _verdict(SUPPORTED if best >= threshold else NOT_SUPPORTED, score, f"{reason} {best:.2f}")


def _year_verdict(slot: str, value: Any, known: Mapping[str, list[Any]], passages: Sequence[str]) -> Verdict | None:
    year = _as_int(value)
    known_years = [y for y in (_as_int(v) for v in known.get(slot, [])) if y is not None]
    if year is None or not known_years:
        return None
    if year in known_years:
        return _verdict(SUPPORTED, 1.0, f"{slot} {year} known")
    if slot == "prize_year" and any(re.search(rf"Nobel[^.]*\b{year}\b|\b{year}\b[^.]*Nobel", p) for p in passages):
        return _verdict(SUPPORTED, 1.0, "second prize in passages")
    return _verdict(CONTRADICTED, 0.0, f"{slot} {year} != {known_years}")


def _date_verdict(slot: str, value: Any, known: Mapping[str, list[Any]]) -> Verdict | None:
    year, month, day = _date_parts(str(value))
    kind = slot.split("_")[0]
    known_years = [y for y in (_as_int(v) for v in known.get(f"{kind}_year", [])) if y is not None]
    if year is None or (not known_years and not known.get(slot)):
        return None
    if known_years and year not in known_years:
        return _verdict(CONTRADICTED, 0.0, f"{kind} year {year} != {known_years}")
    for date in known.get(slot, []):
        k_year, k_month, k_day = _date_parts(str(date))
        if k_year != year:
            continue
        if month is not None and k_month is not None and month != k_month:
            return _verdict(CONTRADICTED, 0.0, f"{slot} month {month} != {k_month}")
        if day is not None and k_day is not None and day != k_day:
            return _verdict(CONTRADICTED, 0.0, f"{slot} day {day} != {k_day}")
        if (month is None or k_month is not None) and (day is None or k_day is not None):
            return _verdict(SUPPORTED, 1.0, f"{slot} matches {date}")
    # the year is right, the day and month cannot be checked
    return _verdict(NOT_SUPPORTED, 0.6, f"{kind} year {year} right, date unknown")


def _place_verdict(slot: str, value: str, known: Mapping[str, list[Any]], passages: Sequence[str]) -> Verdict | None:
    kind = slot.split("_")[0]
    claimed = [p.strip() for p in str(value).split(",") if p.strip()]
    if not claimed:
        return None
    places = [str(v) for v in known.get(slot, [])]
    countries = [str(v) for v in known.get("country", [])] if kind == "birth" or slot == "country" else []
    known_tokens = set().union(*(content_tokens(p) for p in places + countries)) if places + countries else set()
    first = content_tokens(claimed[0])
    if known_tokens:
        if first and first <= known_tokens:
            return _verdict(SUPPORTED, 1.0, f"{slot} {value!r} matches {places + countries}")
        # the most specific place named is not the known one
        in_text = any(first and first <= content_tokens(p) for p in passages)
        if in_text and kind != "birth":
            return _verdict(SUPPORTED, 0.9, f"{slot} {value!r} in passages")
        return _verdict(CONTRADICTED, 0.0, f"{slot} {value!r} != {places + countries}")
    return None


def _nationality_verdict(value: str, known: Mapping[str, list[Any]], passages: Sequence[str]) -> Verdict | None:
    """Every part of a claimed nationality ("Dutch-American") must be known: a known demonym, the
    known birth country, or a word of the passages."""
    claimed = _demonym_set(value)
    if not claimed:
        return None
    known_dem = (
        set().union(*(_demonym_set(str(v)) for v in known.get("nationality", [])))
        if known.get("nationality")
        else set()
    )
    countries = [f" {normalize_answer(str(c))} " for c in known.get("country", [])]
    text_tokens = set().union(*(set(normalize_answer(p).split()) for p in passages)) if passages else set()

    def backed(part: str) -> str | None:
        if part in known_dem:
            return "known"
        if any(f" {normalize_answer(c)} " in k for c in demonym_countries(part) for k in countries):
            return "country"
        return "passages" if part in text_tokens else None

    sources = {part: backed(part) for part in claimed}
    if all(sources.values()):
        score = 1.0 if all(v == "known" for v in sources.values()) else 0.9
        return _verdict(SUPPORTED, score, f"nationality {value!r}: {sources}")
    unbacked = [p for p, v in sources.items() if v is None]
    if known_dem and all(p.capitalize() in DEMONYMS for p in unbacked):
        # a different known demonym contradicts; an unknown word (e.g. a region) is not checked
        return _verdict(
            CONTRADICTED,
            0.0 if len(unbacked) == len(claimed) else 0.2,
            f"nationality {unbacked} not in {sorted(known_dem)}",
        )
    if known_dem or countries:
        return _verdict(NOT_SUPPORTED, 0.3, f"nationality {unbacked} not known")
    return None


def _occupation_verdict(value: str, known: Mapping[str, list[Any]], passages: Sequence[str]) -> Verdict | None:
    claimed = content_tokens(value)
    if not claimed:
        return None
    head = _stem(normalize_answer(value).split()[-1])
    known_tokens = (
        set().union(*(content_tokens(str(v)) for v in known.get("occupation", [])))
        if known.get("occupation")
        else set()
    )
    text_tokens = set().union(*(content_tokens(p) for p in passages)) if passages else set()
    trades = OCCUPATION_HYPERNYMS.get(head, frozenset())
    if trades & (known_tokens | text_tokens):  # "artist" for a known painter
        return _verdict(SUPPORTED, 0.8, f"occupation {value!r} covers {sorted(trades & (known_tokens | text_tokens))}")
    if head in known_tokens or head in text_tokens:
        modifiers = claimed - {head}
        if modifiers <= known_tokens | text_tokens:
            return _verdict(SUPPORTED, 1.0, f"occupation {value!r} known")
        return _verdict(SUPPORTED, 0.8, f"occupation head {head!r} known")
    # occupations are open lists: an unlisted one is not supported, not contradicted
    return _verdict(NOT_SUPPORTED, 0.15, f"occupation {value!r} not in {sorted(known_tokens)[:8]}")


_FIELD_ALIASES = {
    "medicine": "physiology or medicine",
    "physiology": "physiology or medicine",
    "economics": "economic sciences",
    "economic": "economic sciences",
}


def _field_verdict(value: str, known: Mapping[str, list[Any]], passages: Sequence[str]) -> Verdict | None:
    fields = [normalize_answer(str(v)) for v in known.get("field", [])]
    if not fields:
        return None
    claimed = normalize_answer(value)
    claimed = _FIELD_ALIASES.get(claimed, claimed)
    if claimed in fields:
        return _verdict(SUPPORTED, 1.0, f"field {value!r} known")
    if any(re.search(rf"Nobel Prize in {re.escape(value)}", p, re.IGNORECASE) for p in passages):
        return _verdict(SUPPORTED, 1.0, "second prize in passages")
    return _verdict(CONTRADICTED, 0.0, f"field {value!r} != {fields}")


def verify_rules(
    fact: Mapping[str, Any],
    entity: Mapping[str, Any],
    passages: Sequence[str] | None = None,
    known: Mapping[str, list[Any]] | None = None,
    k: int = 5,
    overlap_threshold: float = 0.8,
    use_structured: bool = True,
) -> Verdict:
    """Verdict on one atomic fact (``text``, ``slot``, ``value``) about ``entity``.

    ``passages`` defaults to the top-k BM25 passages for name + fact; ``known`` to
    ``knowledge_slots(entity)`` (pass it in when verifying many facts of one entity).
    A slot with no known value falls back to passage overlap.
    """
    name = entity["name"]
    if passages is None:
        passages = retrieve(entity.get("knowledge", []), name, fact["text"], k=k)
    if known is None:
        known = knowledge_slots(entity, use_structured=use_structured)
    slot, value = fact.get("slot"), fact.get("value")
    verdict: Verdict | None = None
    if slot and value is not None:
        if slot in ("birth_year", "death_year", "prize_year"):
            verdict = _year_verdict(slot, value, known, passages)
        elif slot in ("birth_date", "death_date"):
            verdict = _date_verdict(slot, value, known)
        elif slot in ("birth_place", "death_place", "country"):
            verdict = _place_verdict(slot, str(value), known, passages)
        elif slot == "nationality":
            verdict = _nationality_verdict(str(value), known, passages)
        elif slot == "occupation":
            verdict = _occupation_verdict(str(value), known, passages)
        elif slot == "field":
            verdict = _field_verdict(str(value), known, passages)
    if verdict is None:
        verdict = _overlap_verdict(fact["text"], name, passages, overlap_threshold)
    return verdict


def verify_facts_rules(
    facts: Sequence[Mapping[str, Any]],
    entity: Mapping[str, Any],
    k: int = 5,
    overlap_threshold: float = 0.8,
    use_structured: bool = True,
) -> list[Verdict]:
    """``verify_rules`` for many facts of one entity (its slots are read once)."""
    known = knowledge_slots(entity, use_structured=use_structured)
    return [
        verify_rules(f, entity, known=known, k=k, overlap_threshold=overlap_threshold, use_structured=use_structured)
        for f in facts
    ]


# ---------------------------------------------------------------------------------------------
# The llm verifier


def build_verify_prompt(topic: str, fact: str, passages: Sequence[str], title: str | None = None) -> str:
    """FActScore's verification prompt; the best passage comes last, nearest the question."""
    context = "".join(
        f"Title: {title or topic}\nText: {p.replace('<s>', '').replace('</s>', '').strip()}\n\n"
        for p in reversed(list(passages))
    )
    definition = f"Answer the question about {topic} based on the given context.\n\n{context}".strip()
    if definition[-1] not in ".!?:;,":
        definition += "."
    return f"{definition}\n\nInput: {fact.strip()} True or False?\nOutput:"


def llm_decision(logp_true: float, logp_false: float, threshold: float = 0.0) -> bool:
    """Supported when log P(True) - log P(False) exceeds the (calibrated) threshold."""
    return (logp_true - logp_false) > threshold


def calibrate_threshold(margins: Sequence[float], labels: Sequence[bool]) -> tuple[float, float]:
    """(threshold, dev accuracy) maximising accuracy of ``margin > threshold``.

    Candidates are midpoints between consecutive distinct margins plus one below all of them;
    among equally accurate thresholds the one nearest 0 wins (the uncalibrated default).
    """
    if len(margins) != len(labels) or not margins:
        raise ValueError("need as many labels as margins, at least one")
    values = sorted(set(float(m) for m in margins))
    candidates = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1]]
    best: tuple[float, float] | None = None
    for t in candidates:
        acc = sum((m > t) == bool(y) for m, y in zip(margins, labels)) / len(labels)
        if best is None or acc > best[1] + 1e-12 or (abs(acc - best[1]) <= 1e-12 and abs(t) < abs(best[0])):
            best = (t, acc)
    assert best is not None
    return best


def cache_key(model_id: str, prompt: str, params: Mapping[str, Any]) -> str:
    """sha256 of (model id, prompt, parameters): the identity of one LLM call."""
    blob = json.dumps(
        {"model": model_id, "prompt": prompt, "params": dict(params)}, sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class LLMCache:
    """Disk cache of LLM results, so a rerun makes no calls; safe when many jobs share it on a network
    filesystem.

    The cache is a folder of shards, one JSONL file per writing process (``<host>-<pid>-<random>.jsonl``),
    each line ``{"key", "value"}``. Appends from several hosts to one file are not atomic on NFS (a line
    can interleave with another's and both are lost); a file with a single writer, read by others only
    after its lines are flushed, is. Readers take the union of all shards (and of a legacy single file
    ``<folder>.jsonl`` if there is one). A line that is not a complete JSON object with a key (a torn
    last line of a killed job, a damaged copy) is skipped and counted in ``skipped`` with a warning.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        self.skipped = 0
        self._data: dict[str, Any] = {}
        self._shard: Path | None = None
        files = sorted(self.path.glob("*.jsonl")) if self.path.is_dir() else []
        legacy = self.path.with_name(self.path.name + ".jsonl")
        for file in ([legacy] if legacy.is_file() else []) + files:
            self._load(file)
        if self.skipped:
            log.warning("LLM cache %s: %d damaged or torn line(s) skipped", self.path, self.skipped)

    def _load(self, file: Path) -> None:
        with open(file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    row = json.loads(line) if line.endswith("\n") else None  # no newline: a torn last line
                except json.JSONDecodeError:
                    row = None
                if not isinstance(row, dict) or not isinstance(row.get("key"), str) or "value" not in row:
                    self.skipped += 1
                    continue
                self._data[row["key"]] = row["value"]

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> Any | None:
        if key in self._data:
            self.hits += 1
            return self._data[key]
        self.misses += 1
        return None

    def put(self, key: str, value: Any) -> None:
        self.put_many([(key, value)])

    def put_many(self, items: Sequence[tuple[str, Any]]) -> None:
        """Append results to this process's shard in one write, synced before returning."""
        if not items:
            return
        if self._shard is None:  # this process's own file, created on its first write
            import socket
            import uuid

            self.path.mkdir(parents=True, exist_ok=True)
            self._shard = self.path / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        text = "".join(json.dumps({"key": k, "value": v}, ensure_ascii=False) + "\n" for k, v in items)
        with open(self._shard, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        self._data.update(items)

    def call(
        self,
        model_id: str,
        prompts: Sequence[str],
        params: Mapping[str, Any],
        compute: Callable[[list[str]], list[Any]],
        chunk_size: int | None = None,
    ) -> list[Any]:
        """Results for ``prompts``: cached ones from disk, the others from ``compute`` batches of at most
        ``chunk_size`` prompts (None: one batch), each written to the cache as soon as it is done, so a
        job killed after hours keeps what it finished."""
        keys = [cache_key(model_id, p, params) for p in prompts]
        results: list[Any] = [self.get(k) for k in keys]
        todo = [i for i, r in enumerate(results) if r is None]
        step = chunk_size or max(len(todo), 1)
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            fresh = compute([prompts[i] for i in chunk])
            if len(fresh) != len(chunk):
                raise ValueError(f"compute returned {len(fresh)} results for {len(chunk)} prompts")
            self.put_many([(keys[i], value) for i, value in zip(chunk, fresh)])
            for i, value in zip(chunk, fresh):
                results[i] = value
        return results


def true_false_logprobs(
    model: Any, tokenizer: Any, prompts: Sequence[str], batch_size: int = 8
) -> list[tuple[float, float]]:
    """(log P(" True"), log P(" False")) of the next token after each completion prompt.

    Left padding, so the last position is the prompt's end. Uses the first token of each word.
    """
    import torch

    true_id = tokenizer(" True", add_special_tokens=False)["input_ids"][0]
    false_id = tokenizer(" False", add_special_tokens=False)["input_ids"][0]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    out: list[tuple[float, float]] = [(0.0, 0.0)] * len(prompts)
    # batches of similar length: little padding (left padding + the attention mask keep results the same)
    lengths = [len(ids) for ids in tokenizer(list(prompts))["input_ids"]]
    order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True)
            batch = {k: v.to(next(model.parameters()).device) for k, v in batch.items()}
            with torch.no_grad():
                logits = model(**batch, logits_to_keep=1).logits[:, -1, :].float()
            logp = torch.log_softmax(logits, dim=-1)
            for i, row in zip(chunk, logp):
                out[i] = (float(row[true_id]), float(row[false_id]))
    finally:
        tokenizer.padding_side = side
    return out


def margin(logps: tuple[float, float]) -> float:
    """log P(True) - log P(False); -inf-safe."""
    t, f = logps
    if math.isinf(t) and math.isinf(f):
        return 0.0
    return t - f
