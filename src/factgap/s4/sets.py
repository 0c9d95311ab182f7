"""S4 training sets (pure): HARmonious, INCompatible and SELF-aligning, their mixtures, and SFT records.

Only confidently probed items (max probability > threshold) enter any set, so that an item's
prediction reflects the model's parametric knowledge (Ren et al., Appendix A.1):

* INC: confident and wrong; the response carries the gold answer.
* SELF: the same questions as INC; the response carries the model's own prediction.
* HAR: confident and right (gold answer), sampled down to |INC| with a seed.

All three have one size. When HAR has fewer items than INC, INC (and with it SELF) is sampled
down to |HAR| instead, and the summary says so. Sampling is over items sorted by id, so the
result does not depend on the input order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from factgap.prompts import chat_prompt
from factgap.s4.prompts import training_instruction, training_response

SET_NAMES = ("HAR", "INC", "SELF")


def _by_id(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(rows, key=lambda r: str(r["id"]))


def _sample(rows: Sequence[Mapping[str, Any]], n: int, seed: int, salt: str) -> list[Mapping[str, Any]]:
    pool = _by_id(rows)
    return _by_id(random.Random(f"{seed}:{salt}").sample(pool, n)) if n < len(pool) else pool


def _item(row: Mapping[str, Any], set_name: str, target: int) -> dict:
    return {
        "id": str(row["id"]),
        "set": set_name,
        "question": row["question"],
        "choices": list(row["choices"]),
        "answer_index": int(row["answer_index"]),
        "prediction": int(row["prediction"]),
        "target_index": int(target),
        "explanation": None,
    }


def build_sets(
    rows: Sequence[Mapping[str, Any]], seed: int, threshold: float | None = None
) -> tuple[dict[str, list[dict]], dict]:
    """HAR / INC / SELF items from probe rows (``probe.read_out`` fields: prediction, correct,
    confident or max_prob), and a summary of the counts.

    ``threshold`` (None: use each row's ``confident``) re-derives confidence as max_prob > threshold.
    Items carry ``target_index`` (the answer the response will state) and ``explanation`` (None, to
    be attached by ``attach_explanations``).
    """
    ids = [str(r["id"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError("probe rows repeat an id")

    def confident(r: Mapping[str, Any]) -> bool:
        return bool(r["confident"]) if threshold is None else float(r["max_prob"]) > threshold

    sure = [r for r in rows if confident(r)]
    right = [r for r in sure if bool(r["correct"])]
    wrong = [r for r in sure if not bool(r["correct"])]
    n = min(len(right), len(wrong))
    har = _sample(right, n, seed, "HAR")
    inc = _sample(wrong, n, seed, "INC")
    limited_by = "INC" if len(wrong) <= len(right) else "HAR"
    sets = {
        "HAR": [_item(r, "HAR", r["answer_index"]) for r in har],
        "INC": [_item(r, "INC", r["answer_index"]) for r in inc],
        "SELF": [_item(r, "SELF", r["prediction"]) for r in inc],
    }
    summary = {
        "n_probed": len(rows),
        "n_confident": len(sure),
        "n_confident_right": len(right),
        "n_confident_wrong": len(wrong),
        "set_size": n,
        "limited_by": limited_by,
        "note": (
            f"HAR sampled down from {len(right)} to |INC| = {n}"
            if limited_by == "INC"
            else f"HAR has fewer items ({len(right)}) than INC ({len(wrong)}): INC and SELF sampled down to {n}"
        ),
    }
    if n == 0:
        summary["note"] = f"empty sets: {len(right)} confident right, {len(wrong)} confident wrong"
    return sets, summary


def attach_explanations(items: Sequence[Mapping[str, Any]], explanations: Mapping[tuple[str, int], str]) -> list[dict]:
    """Copy of ``items`` with ``explanation`` looked up by (id, target_index); a missing one fails."""
    out = []
    for item in items:
        key = (str(item["id"]), int(item["target_index"]))
        if key not in explanations:
            raise KeyError(f"no explanation for question {key[0]!r}, answer {key[1]}")
        out.append({**item, "explanation": explanations[key]})
    return out


def round_half_up(x: float) -> int:
    """round() without banker's rounding (0.5 -> 1), for set sizes."""
    return int(math.floor(x + 0.5))


def consistency_mixture(
    inc: Sequence[Mapping[str, Any]], self_items: Sequence[Mapping[str, Any]], fraction: float, seed: int
) -> list[dict]:
    """INC's questions with a ``fraction`` of them answered as in SELF (consistency ratio).

    round(fraction * n) questions take the SELF response, the rest the INC one. The questions are
    ordered once by a seeded permutation and the first k switch, so a larger fraction contains every
    SELF question of a smaller one (nested mixtures, one seed).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    inc_by_id = {str(r["id"]): r for r in inc}
    self_by_id = {str(r["id"]): r for r in self_items}
    if set(inc_by_id) != set(self_by_id) or len(inc_by_id) != len(inc):
        raise ValueError("INC and SELF must hold the same questions, once each")
    order = sorted(inc_by_id)
    random.Random(f"{seed}:mixture").shuffle(order)
    switched = set(order[: round_half_up(fraction * len(order))])
    mixed = []
    for qid in sorted(inc_by_id):
        source = self_by_id[qid] if qid in switched else inc_by_id[qid]
        mixed.append({**source, "set": "SELF" if qid in switched else "INC", "mixture_fraction": float(fraction)})
    return mixed


def contextualize(items: Sequence[Mapping[str, Any]], evidence: Mapping[str, str]) -> list[dict]:
    """Copy of ``items`` with ``context`` (evidence for the answer, by id): contextualized IFT
    prepends it to the training input only, never at test time."""
    out = []
    for item in items:
        qid = str(item["id"])
        if qid not in evidence or not str(evidence[qid]).strip():
            raise KeyError(f"no evidence for question {qid!r}")
        out.append({**item, "context": str(evidence[qid]).strip()})
    return out


def to_instruction_records(items: Sequence[Mapping[str, Any]], domain: str, answer_cue: bool = True) -> list[dict]:
    """Items -> {id, set, instruction, response} (Table 8 / Table 13 formats of ``prompts``)."""
    return [
        {
            "id": str(it["id"]),
            "set": it.get("set"),
            "instruction": training_instruction(domain, it, it.get("context"), answer_cue=answer_cue),
            "response": training_response(it["choices"], int(it["target_index"]), it.get("explanation")),
        }
        for it in items
    ]


def mix_general(
    domain_records: Sequence[Mapping[str, Any]], general: Sequence[Mapping[str, Any]], seed: int, ratio: float = 1.0
) -> list[dict]:
    """Domain records plus round(ratio * n) general instruction records ({instruction, response}),
    shuffled with ``seed`` (the paper mixes 1:1 with alpaca-gpt4). Too few general records fail."""
    n_general = round_half_up(ratio * len(domain_records))
    if n_general > len(general):
        raise ValueError(f"need {n_general} general instruction records, got {len(general)}")
    for i, g in enumerate(general):
        if not str(g.get("instruction") or "").strip() or not str(g.get("response") or "").strip():
            raise ValueError(f"general record {i} lacks an instruction or a response")
    rng = random.Random(f"{seed}:general")
    picked = sorted(rng.sample(range(len(general)), n_general))
    mixed = [dict(r) for r in domain_records]
    mixed += [
        {
            "id": str(general[i].get("id", f"general:{i}")),
            "set": "general",
            "instruction": general[i]["instruction"],
            "response": general[i]["response"],
        }
        for i in picked
    ]
    rng.shuffle(mixed)
    return mixed


def to_sft_records(records: Sequence[Mapping[str, Any]], conversational: bool = True) -> list[dict]:
    """{instruction, response} -> TRL prompt/completion records (loss on the completion only).

    Conversational for a model with a chat template: TRL applies it, as the 0-shot test does. A base model
    without one (Llama-2-7B, Mistral-7B) is trained on the plain text its test renders
    (``prompts.chat_prompt``'s fallback: the message and a newline).
    """
    if conversational:
        return [
            {
                "prompt": [{"role": "user", "content": r["instruction"]}],
                "completion": [{"role": "assistant", "content": r["response"]}],
            }
            for r in records
        ]
    return [{"prompt": chat_prompt(None, r["instruction"]), "completion": r["response"]} for r in records]
