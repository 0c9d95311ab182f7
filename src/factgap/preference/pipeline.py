"""I/O shells of S3 part 2: preference pairs from part 1's files, and the training job's settings.

General pairs come from the training people's scored responses (greedy + samples, one verifier's
FActScore); atomic pairs from the facts those responses state, asked back S times (part 1's
knowledge probe). The people whose pairs are dev pairs are a seeded share of the training people,
so no prompt or person is both trained on and used to select the epoch.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from factgap.io import write_parquet
from factgap.preference.pairs import (
    atomic_pairs,
    general_pairs_from_rows,
    mix_pairs,
    pairs_table,
    rso_pairs_from_rows,
)
from factgap.preference.train import PreferenceSettings

log = logging.getLogger(__name__)

PAIR_SETS = ("general", "general+atomic", "atomic")


def dev_people(entity_ids: Sequence[str], dev_fraction: float, seed: int) -> set[str]:
    """A seeded share of the people (at least one, and at least one left for training)."""
    ids = sorted(set(entity_ids))
    if len(ids) < 2:
        raise ValueError(f"{len(ids)} training people: need at least 2 to set dev pairs apart")
    n = min(len(ids) - 1, max(1, round(dev_fraction * len(ids))))
    return set(random.Random(f"{seed}:preference-dev").sample(ids, n))


def scored_responses(
    bios: Sequence[Mapping[str, Any]], scores: Sequence[Mapping[str, Any]], verifier: str, score_key: str
) -> list[dict[str, Any]]:
    """``{prompt, response, score, prompt_id}`` rows of every response, scored by one verifier
    (NaN for an abstention: no checkable fact, which never pairs)."""
    by_response = {s["response_id"]: s for s in scores if s["verifier"] == verifier}
    rows = []
    for bio in bios:
        score = by_response.get(bio["response_id"], {}).get(score_key)
        rows.append(
            {
                "prompt": bio["prompt"],
                "response": bio["text"],
                "prompt_id": bio["entity_id"],
                "score": math.nan if score is None else float(score),
            }
        )
    return rows


def asked_facts(
    facts: Sequence[Mapping[str, Any]], knowledge: Sequence[Mapping[str, Any]], people: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Facts asked back, in the form ``pairs.atomic_pairs`` takes: the question (as the prompt), the
    expected answer, each sampled answer marked right or wrong, r, the slot and the person.

    One record per distinct (person, question, expected answer): the same fact stated in several
    responses of a person is one atomic preference, not several.
    """
    from factgap.factscore.knowledge import answer_matches

    fact_of = {f["fact_id"]: f for f in facts}
    out, seen = [], set()
    for row in knowledge:
        if row["question"] is None or row["r"] is None:
            continue
        fact = fact_of[row["fact_id"]]
        key = (fact["entity_id"], row["question"], row["expected"])
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {
                "fact_id": row["fact_id"],
                "prompt": row["question"],
                "expected_answer": row["expected"],
                "samples": [
                    {"answer": a, "correct": answer_matches(a, row["expected"], fact["slot"])} for a in row["answers"]
                ],
                "r": float(row["r"]),
                "slot": fact["slot"],
                "entity": people[fact["entity_id"]]["name"],
                "entity_id": fact["entity_id"],
            }
        )
    return out


def build_pairs(
    responses: Sequence[Mapping[str, Any]],
    facts: Sequence[Mapping[str, Any]],
    pair_set: str,
    sampler: str,
    spec: Mapping[str, Any],
    seed: int,
) -> list[dict[str, Any]]:
    """The pairs of one pair set (pure). ``spec``: the ``s3.preference`` config section."""
    if pair_set not in PAIR_SETS:
        raise ValueError(f"pair set {pair_set!r} is not one of {PAIR_SETS}")
    general_spec, atomic_spec = spec["general"], spec["atomic"]
    general: list[dict[str, Any]] = []
    if pair_set != "atomic":
        if sampler == "rso":
            general = rso_pairs_from_rows(
                responses,
                spec["rso"]["beta"],
                seed,
                spec["rso"]["num_samples"],
                general_spec["threshold"],
                general_spec["max_pairs_per_prompt"],
            )
        elif sampler == "facttune":
            general = general_pairs_from_rows(
                responses, general_spec["threshold"], general_spec["max_pairs_per_prompt"], seed
            )
        else:
            raise ValueError(f"sampler {sampler!r} is not facttune or rso")
    atomic: list[dict[str, Any]] = []
    if pair_set != "general":
        atomic = atomic_pairs(
            facts,
            atomic_spec["rejected_from"],
            atomic_spec["chosen_from"],
            atomic_spec["r_low"],
            atomic_spec["r_high"],
            seed,
        )
    if pair_set == "general+atomic":
        return mix_pairs(general, atomic, atomic_spec["per_general"], seed)
    return general or atomic


def split_pairs(
    pairs: Sequence[Mapping[str, Any]], person_of_origin: Mapping[str, str], dev: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, dev) by the person a pair is about."""
    train, held = [], []
    for pair in pairs:
        (held if person_of_origin[pair["origin_id"]] in dev else train).append(dict(pair))
    return train, held


def build_pairs_file(
    bios_path,
    scores_path,
    facts_path,
    knowledge_path,
    people_path,
    pair_set: str,
    sampler: str,
    spec: Mapping[str, Any],
    verifier: str,
    seed: int,
    train_path,
    dev_path,
) -> dict[str, int]:
    """Shell: the training and dev pairs of one pair set from part 1's files of the training people."""
    import pyarrow.parquet as pq

    from factgap.factscore.pipeline import read_people

    bios = pq.read_table(bios_path).to_pylist()
    responses = scored_responses(bios, pq.read_table(scores_path).to_pylist(), verifier, spec["general"]["score"])
    people = read_people(people_path)
    facts = asked_facts(pq.read_table(facts_path).to_pylist(), pq.read_table(knowledge_path).to_pylist(), people)
    pairs = build_pairs(responses, facts, pair_set, sampler, spec, seed)
    person_of_origin = {b["entity_id"]: b["entity_id"] for b in bios} | {f["fact_id"]: f["entity_id"] for f in facts}
    dev = dev_people([b["entity_id"] for b in bios], spec["dev_fraction"], seed)
    train, held = split_pairs(pairs, person_of_origin, dev)
    counts = {
        f"{part}_{source}": sum(p["source"] == source for p in rows)
        for part, rows in (("train", train), ("dev", held))
        for source in ("general", "atomic")
    }
    log.info(
        "%s pairs (%s): %s; %d prompts with scored responses, %d facts asked back",
        pair_set,
        sampler,
        counts,
        len({r["prompt"] for r in responses}),
        len(facts),
    )
    if not train or not held:
        raise ValueError(
            f"pair set {pair_set!r} ({sampler}): {len(train)} training and {len(held)} dev pairs; "
            "both must be non-empty (more training people, s3.generation.n_samples, or a lower "
            "s3.preference.general.threshold)"
        )
    write_parquet(pairs_table(train), train_path)
    write_parquet(pairs_table(held), dev_path)
    return counts


def preference_settings(s3: Mapping[str, Any], method: str, seed: int) -> PreferenceSettings:
    """The method's settings: ``s3.preference.training`` overridden by the non-null values of
    ``s3.preference.per_method.<method>``; prompts rendered as generation rendered them."""
    preference = s3["preference"]
    override = {k: v for k, v in preference["per_method"].get(method, {}).items() if v is not None}
    common = {
        **preference["training"],
        "kto_conflicts": preference["kto_conflicts"],
        "chat_template": s3["generation"]["chat_template"],
    }
    return PreferenceSettings.from_config(override, common, seed, method=method)
