"""I/O shells of the S3 part-1 stages: people, bios, atomic facts, verdicts, FActScore, per-fact knowledge,
and the verifiers measured on a labelled claim set.

Each function reads its inputs, calls the pure cores of ``factgap.factscore`` and writes one parquet
table with a stable schema (plus a JSON summary where a report needs one). Models run through the
project's backends (transformers on CPU/CUDA, vLLM where installed on a GPU). Every judge or
extractor call of an LLM goes through ``LLMCache``: a rerun makes none (hits/misses in the log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from factgap.io import read_json, write_json, write_parquet
from factgap.prompts import chat_prompt

log = logging.getLogger(__name__)

PEOPLE_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("tier", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("description", pa.string(), nullable=False),
        pa.field("knowledge", pa.list_(pa.string()), nullable=False),
        pa.field("facts", pa.string(), nullable=False),  # JSON object of the structured slots
        pa.field("prompt", pa.string()),  # the entity's own request (FAVA); null: the set's template
    ]
)
BIO_SCHEMA = pa.schema(
    [
        pa.field("response_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("sample", pa.int64(), nullable=False),  # -1 = greedy, 0..n-1 = sampled
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)
FACT_SCHEMA = pa.schema(
    [
        pa.field("fact_id", pa.string(), nullable=False),
        pa.field("response_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("sentence_index", pa.int64(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("slot", pa.string()),
        pa.field("value", pa.string()),
        pa.field("sentence", pa.string(), nullable=False),
    ]
)
VERDICT_SCHEMA = pa.schema(
    [
        pa.field("fact_id", pa.string(), nullable=False),
        pa.field("verifier", pa.string(), nullable=False),
        pa.field("supported", pa.bool_(), nullable=False),
        pa.field("label", pa.string(), nullable=False),  # supported | contradicted | not_supported
        pa.field("score", pa.float64(), nullable=False),  # higher = more supported (rules: [0, 1]; llm: margin)
        pa.field("evidence", pa.list_(pa.int64()), nullable=False),  # passage indices, best first
    ]
)
SCORE_SCHEMA = pa.schema(
    [
        pa.field("response_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("tier", pa.string(), nullable=False),
        pa.field("sample", pa.int64(), nullable=False),
        pa.field("verifier", pa.string(), nullable=False),
        pa.field("n_facts", pa.int64(), nullable=False),
        pa.field("n_supported", pa.int64(), nullable=False),
        pa.field("score", pa.float64()),  # NaN/null: no fact (an abstention)
        pa.field("score_lp", pa.float64()),  # with the length penalty exp(1 - gamma / n), n < gamma
        pa.field("abstained", pa.bool_(), nullable=False),
    ]
)
KNOWLEDGE_SCHEMA = pa.schema(
    [
        pa.field("fact_id", pa.string(), nullable=False),
        pa.field("question", pa.string()),
        pa.field("expected", pa.string()),
        pa.field("kind", pa.string()),  # template | cloze | null (no question could be made)
        pa.field("answers", pa.list_(pa.string()), nullable=False),
        pa.field("r", pa.float64()),
        pa.field("category", pa.string()),  # known | potentially_known | unknown | null
    ]
)
CLAIM_RESULT_SCHEMA = pa.schema(
    [
        pa.field("claim_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("tier", pa.string(), nullable=False),
        pa.field("slot", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),  # dev (calibration) | test (reported)
        pa.field("text", pa.string(), nullable=False),
        pa.field("label", pa.bool_(), nullable=False),
        pa.field("verifier", pa.string(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("supported", pa.bool_(), nullable=False),
    ]
)


# ---- people -------------------------------------------------------------------------------------
def load_people(spec: Mapping[str, Any]) -> list[dict]:
    """Entities of ``s3.people``: the embedded tiers, or FActScore's layout (validated row by row)."""
    from factgap.factscore.entities import load_embedded_entities, load_paper_entities

    if spec["source"] == "embedded":
        return list(load_embedded_entities())
    if spec["source"] == "factscore":
        if not spec.get("entities_path") or not spec.get("knowledge_db"):
            raise ValueError("s3.people: source factscore needs entities_path and knowledge_db")
        return list(load_paper_entities(spec["entities_path"], spec["knowledge_db"], tier=spec.get("tier") or "paper"))
    raise ValueError(f"s3.people.source: unknown source {spec['source']!r}")


def select_people(
    entities: Sequence[Mapping[str, Any]],
    fractions: Mapping[str, float],
    max_per_tier: Mapping[str, int | None],
    seed: int,
) -> list[dict]:
    """Entities with a split (train / dev / test, disjoint, stratified by tier) and at most
    ``max_per_tier[split]`` people per (tier, split), drawn seeded."""
    from factgap.factscore.entities import split_entities
    from factgap.sampling import cap_groups

    split_of = split_entities(entities, fractions, seed)
    rows = [{**e, "id": e["entity_id"], "split": split_of[e["entity_id"]]} for e in entities]
    kept = cap_groups(
        rows,
        lambda r: (r["tier"], r["split"]),
        lambda key: max_per_tier.get(key[1]),
        lambda key: f"{seed}:people:{key[0]}:{key[1]}",
    )
    return [{k: v for k, v in r.items() if k != "id"} for r in kept]


def prepare_people_file(spec: Mapping[str, Any], seed: int, out_path) -> dict:
    people = select_people(load_people(spec), spec["split_fractions"], spec["max_per_tier"], seed)
    if not any(p["split"] == "test" for p in people):
        raise ValueError("s3.people: no test people (raise split_fractions.test or max_per_tier.test)")
    rows = [
        {
            "entity_id": p["entity_id"],
            "name": p["name"],
            "tier": p["tier"],
            "split": p["split"],
            "description": p.get("description") or "",
            "knowledge": list(p["knowledge"]),
            "facts": json.dumps(p.get("facts") or {}, sort_keys=True, ensure_ascii=False),
        }
        for p in sorted(people, key=lambda p: p["entity_id"])
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=PEOPLE_SCHEMA), out_path)
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r["split"], {}).setdefault(r["tier"], 0)
        counts[r["split"]][r["tier"]] += 1
    log.info("people (%s): %s", spec["source"], counts)
    return counts


def read_people(path) -> dict[str, dict]:
    """entity_id -> entity record (``facts`` decoded)."""
    import pyarrow.parquet as pq

    return {r["entity_id"]: {**r, "facts": json.loads(r["facts"])} for r in pq.read_table(path).to_pylist()}


# ---- bios --------------------------------------------------------------------------------------
def bio_request(person: Mapping[str, Any], prompt: str) -> str:
    """The request a person's bio answers: the entity's own ``prompt`` (FAVA), or the set's template."""
    return person.get("prompt") or prompt.format(entity=person["name"])


def bio_rows(
    entity_ids: Sequence[str], prompts: Sequence[str], greedy: Sequence[str], samples: Sequence[Sequence[str]]
) -> list[dict]:
    """BIO_SCHEMA rows: one greedy and the sampled responses of each entity."""
    rows = []
    for entity_id, prompt, g, ss in zip(entity_ids, prompts, greedy, samples, strict=True):
        rows.append(
            {"response_id": f"{entity_id}#g", "entity_id": entity_id, "sample": -1, "prompt": prompt, "text": g.strip()}
        )
        rows.extend(
            {
                "response_id": f"{entity_id}#s{i}",
                "entity_id": entity_id,
                "sample": i,
                "prompt": prompt,
                "text": s.strip(),
            }
            for i, s in enumerate(ss)
        )
    return rows


def generate_bios_file(
    manifest_path,
    people_path,
    split: str,
    generation: Mapping[str, Any],
    seed: int,
    backend: str,
    out_path,
    adapter_dir=None,
    engine=None,
) -> dict:
    """Greedy + ``n_samples`` sampled bios (training people only) of the people of ``split`` with the
    request of ``generation["prompt"]`` (or an entity's own ``prompt``), by the base model or with a
    trained adapter; ``engine``: a backend already loaded with that model (then ``manifest_path``,
    ``backend`` and ``adapter_dir`` are not read)."""
    from factgap.backends import make_backend

    people = [p for p in read_people(people_path).values() if p["split"] == split]
    if not people:
        raise ValueError(f"{people_path}: no people in split {split!r}")
    engine = engine or make_backend(backend, manifest_path, adapter=adapter_dir, stop=(), show_progress=True)
    messages = [bio_request(p, generation["prompt"]) for p in people]
    prompts = [chat_prompt(engine.tokenizer, m, generation["chat_template"]) for m in messages]
    greedy, samples = engine.greedy_and_samples(
        prompts,
        n_samples=generation["n_samples"] if split == "train" else 0,
        temperature=generation["temperature"],
        top_k=0,
        top_p=generation["top_p"],
        max_new_tokens=generation["max_new_tokens"],
        batch_size=generation["batch_size"],
        seed=seed,
        stop=(),
        desc="bios",
    )
    rows = bio_rows([p["entity_id"] for p in people], messages, greedy, samples)
    write_parquet(pa.Table.from_pylist(rows, schema=BIO_SCHEMA), out_path)
    log.info("bios (%s): %d people, %d responses", split, len(people), len(rows))
    return {"people": len(people), "responses": len(rows)}


# ---- atomic facts ------------------------------------------------------------------------------
def fact_rows(facts: Sequence[Mapping[str, Any]], entity_id: str) -> list[dict]:
    return [
        {
            "fact_id": f"{f['response_id']}#f{i}",
            "response_id": f["response_id"],
            "entity_id": entity_id,
            "sentence_index": int(f["sentence_index"]),
            "position": int(f["position"]),
            "text": f["text"],
            "slot": f.get("slot"),
            "value": None if f.get("value") is None else str(f["value"]),
            "sentence": f["sentence"],
        }
        for i, f in enumerate(facts)
    ]


def extract_facts_file(
    bios_path,
    people_path,
    extractor: Mapping[str, Any],
    out_path,
    judge_manifest=None,
    cache_path=None,
    backend: str = "hf",
) -> dict:
    """Atomic facts of every bio: the rule extractor, or FActScore's LLM prompt (cached calls)."""
    import pyarrow.parquet as pq

    from factgap.factscore.atomic import (
        build_llm_extraction_prompt,
        extract_facts_rules,
        facts_from_llm_outputs,
        split_sentences,
    )
    from factgap.factscore.topics import is_topic_id

    bios = pq.read_table(bios_path).to_pylist()
    people = read_people(people_path)
    rows: list[dict] = []
    if extractor["kind"] == "rules":
        for bio in bios:
            name = people[bio["entity_id"]]["name"]
            rows.extend(
                fact_rows(
                    extract_facts_rules(
                        bio["text"], name, bio["response_id"], person=not is_topic_id(bio["entity_id"])
                    ),
                    bio["entity_id"],
                )
            )
    else:
        sentences = {b["response_id"]: split_sentences(b["text"]) for b in bios}
        prompts = [build_llm_extraction_prompt(s) for b in bios for _, s in sentences[b["response_id"]]]
        outputs = iter(cached_generate(judge_manifest, cache_path, prompts, extractor["max_new_tokens"], backend))
        for bio in bios:
            sents = sentences[bio["response_id"]]
            facts = facts_from_llm_outputs(
                bio["response_id"], sents, [next(outputs) for _ in sents], people[bio["entity_id"]]["name"]
            )
            rows.extend(fact_rows(facts, bio["entity_id"]))
    write_parquet(pa.Table.from_pylist(rows, schema=FACT_SCHEMA), out_path)
    log.info("facts (%s): %d from %d responses", extractor["kind"], len(rows), len(bios))
    return {"facts": len(rows), "responses": len(bios)}


# Prompts per cache write: a killed extraction or verification job keeps every finished chunk (at paper
# scale a verification job runs for hours); large enough that a vLLM engine still batches well.
CACHE_CHUNK = 4096


def through_cache(manifest_path, cache_path, prompts: Sequence[str], params: Mapping[str, Any], load, compute) -> list:
    """Results of a model's calls for ``prompts``: cached ones from disk, the rest from
    ``compute(engine, todo)`` in chunks written to the cache as they finish; ``load(manifest)`` makes the
    engine, once and only when something is missing. Hits and calls logged."""
    from factgap.factscore.verify import LLMCache

    manifest = read_json(manifest_path)
    cache = LLMCache(cache_path)
    engine = []

    def compute_chunk(todo: list[str]) -> list:
        if not engine:
            engine.append(load(manifest))
        return compute(engine[0], todo)

    out = cache.call(model_key(manifest), list(prompts), params, compute_chunk, chunk_size=CACHE_CHUNK)
    log.info("LLM cache %s: %d hits, %d calls", cache_path, cache.hits, cache.misses)
    return out


def cached_generate(manifest_path, cache_path, prompts: Sequence[str], max_new_tokens: int, backend: str) -> list[str]:
    """Greedy continuations through the disk cache (model identity, prompt, parameters)."""

    def load(manifest):
        from factgap.backends import make_backend

        return make_backend(backend, manifest, stop=("\n\n",), show_progress=True)

    def compute(engine, todo: list[str]) -> list[str]:
        return engine.greedy(todo, max_new_tokens=max_new_tokens, desc="llm")

    params = {"kind": "greedy", "max_new_tokens": max_new_tokens}
    return through_cache(manifest_path, cache_path, prompts, params, load, compute)


def model_key(manifest: Mapping[str, Any]) -> str:
    """What identifies a model's answers in the cache: its manifest (source, weights' identity, dtype)
    without the local folder it loads from, so a cache carries over between checkouts."""
    return json.dumps({k: v for k, v in manifest.items() if k != "load_from"}, sort_keys=True, default=str)


# ---- verification ------------------------------------------------------------------------------
def evidence_passages(
    entity: Mapping[str, Any], fact_text: str, k: int, passage_words: int
) -> tuple[list[str], list[int]]:
    """(top-k passages best first, their indices) of the entity's knowledge for name + fact (BM25)."""
    from factgap.factscore.retrieval import bm25_top_k, entity_passages

    passages = entity_passages(entity["knowledge"], passage_words)
    top = [i for i, _ in bm25_top_k(passages, f"{entity['name']} {fact_text}", k)]
    return [passages[i] for i in top], top


def llm_margins(manifest_path, cache_path, prompts: Sequence[str], batch_size: int, backend: str) -> list[float]:
    """log P(True) - log P(False) after each verification prompt, through the disk cache."""
    from factgap.factscore.verify import margin, true_false_logprobs

    def load(manifest):
        from factgap.backends import make_backend

        # next-token logits of the judge come from transformers (on the GPU when there is one), whatever
        # `backend` says: a vLLM engine has no model object to run true_false_logprobs on
        return make_backend("hf", manifest, show_progress=False, for_scoring=True)

    def compute(engine, todo: list[str]) -> list[list[float]]:
        return [list(v) for v in true_false_logprobs(engine.model, engine.tokenizer, todo, batch_size)]

    logps = through_cache(manifest_path, cache_path, prompts, {"kind": "true_false_logprobs"}, load, compute)
    return [margin((float(t), float(f))) for t, f in logps]


def judge_statements(
    statements: Sequence[Mapping[str, Any]],
    people: Mapping[str, Mapping[str, Any]],
    verifier: str,
    verify: Mapping[str, Any],
    use_structured: bool = True,
    judge_manifest=None,
    cache_path=None,
    backend: str = "hf",
) -> list[dict]:
    """One judgement per statement ({entity_id, text, slot, value}: a bio's fact or a claim) against the
    person's top-k BM25 passages: {label, score, evidence}. ``rules`` labels supported / contradicted /
    not_supported; ``llm`` gives the margin as score and no label (the caller applies its threshold).
    ``use_structured=False``: the rule verifier reads the knowledge texts only, not the structured slots."""
    from factgap.factscore.verify import build_verify_prompt, knowledge_slots, verify_rules

    evidence = [
        evidence_passages(people[st["entity_id"]], st["text"], verify["k"], verify["passage_words"])
        for st in statements
    ]
    if verifier == "rules":
        known = {
            eid: knowledge_slots(people[eid], use_structured=use_structured)
            for eid in {st["entity_id"] for st in statements}
        }
        out = []
        for st, (passages, ids) in zip(statements, evidence):
            v = verify_rules(
                {"text": st["text"], "slot": st.get("slot"), "value": st.get("value")},
                people[st["entity_id"]],
                passages=passages,
                known=known[st["entity_id"]],
                overlap_threshold=verify["overlap_threshold"],
                use_structured=use_structured,
            )
            out.append({"label": v["label"], "score": float(v["score"]), "evidence": ids})
        return out
    if verifier == "llm":
        prompts = [
            build_verify_prompt(people[st["entity_id"]]["name"], st["text"], passages)
            for st, (passages, _) in zip(statements, evidence)
        ]
        margins = llm_margins(judge_manifest, cache_path, prompts, verify["batch_size"], backend)
        return [{"label": None, "score": float(m), "evidence": ids} for m, (_, ids) in zip(margins, evidence)]
    raise ValueError(f"unknown verifier {verifier!r}: 'rules' or 'llm'")


def verify_facts_file(
    facts_path,
    people_path,
    verifier: str,
    verify: Mapping[str, Any],
    out_path,
    judge_manifest=None,
    calibration_path=None,
    cache_path=None,
    backend: str = "hf",
) -> dict:
    """One verdict per fact by ``verifier`` (rules, or the llm judge with the threshold calibrated on
    the claim set's dev part), with the ids of the evidence passages."""
    import pyarrow.parquet as pq

    facts = pq.read_table(facts_path).to_pylist()
    threshold = read_json(calibration_path)["llm"]["threshold"] if verifier == "llm" else None
    judged = judge_statements(
        facts,
        read_people(people_path),
        verifier,
        verify,
        judge_manifest=judge_manifest,
        cache_path=cache_path,
        backend=backend,
    )
    rows = []
    for fact, j in zip(facts, judged):
        label = j["label"] or ("supported" if j["score"] > threshold else "not_supported")
        rows.append(
            {
                "fact_id": fact["fact_id"],
                "verifier": verifier,
                "supported": label == "supported",
                "label": label,
                "score": j["score"],
                "evidence": j["evidence"],
            }
        )
    write_parquet(pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA), out_path)
    share = sum(r["supported"] for r in rows) / max(1, len(rows))
    log.info("verdicts (%s): %d facts, %.1f%% supported", verifier, len(rows), 100 * share)
    return {"facts": len(rows), "supported": share}


# ---- claim set: how far each verifier can be trusted ---------------------------------------------
def claim_slots(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The slot values claims are made from: the structured ones, or for people with none (FActScore's
    layout) the first value the rule extractor reads of each slot in the knowledge texts."""
    from factgap.factscore.claims import CLAIM_SLOTS
    from factgap.factscore.verify import knowledge_slots

    if entity.get("facts"):
        return dict(entity["facts"])
    read = knowledge_slots(entity, use_structured=False)
    return {slot: values[0] for slot, values in read.items() if slot in CLAIM_SLOTS and values}


def verifier_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Accuracy and ROC AUC of one verifier's claim rows (of one split)."""
    from factgap.factscore.claims import accuracy, roc_auc

    labels = [bool(r["label"]) for r in rows]
    has_both = len(set(labels)) == 2
    return {
        "n": len(rows),
        "accuracy": accuracy([bool(r["supported"]) for r in rows], labels) if rows else float("nan"),
        "auc": roc_auc([float(r["score"]) for r in rows], labels) if has_both else float("nan"),
    }


def measure_verifiers_file(
    people_path,
    verifiers: Sequence[str],
    claims_spec: Mapping[str, Any],
    verify: Mapping[str, Any],
    seed: int,
    out_path,
    summary_path,
    judge_manifest=None,
    cache_path=None,
    backend: str = "hf",
) -> dict:
    """Every verifier on the labelled claim set (true slots vs another person's value): per-claim
    scores, the llm threshold calibrated on the dev part, accuracy / AUC on the test part."""
    from factgap.factscore.claims import build_claims
    from factgap.factscore.verify import calibrate_threshold

    people = read_people(people_path)
    pool = [{**p, "facts": claim_slots(p)} for p in people.values() if p["split"] in claims_spec["people_splits"]]
    claims = build_claims(pool, seed, dev_fraction=claims_spec["dev_fraction"])
    if claims_spec["max_claims"] is not None and len(claims) > claims_spec["max_claims"]:
        import random

        # keep whole (true, false) pairs so the labels stay balanced
        pairs = sorted({c["claim_id"].rsplit("|", 1)[0] for c in claims})
        keep = set(random.Random(f"{seed}:claims").sample(pairs, claims_spec["max_claims"] // 2))
        claims = [c for c in claims if c["claim_id"].rsplit("|", 1)[0] in keep]
    if not claims:
        raise ValueError(
            f"{people_path}: no claim could be built: the people of s3.claims.people_splits "
            f"{claims_spec['people_splits']} have no slot (date, place, nationality...) in their knowledge"
        )
    rows, summary = [], {}
    for verifier in verifiers:
        # the structured slots made the claims: the rule verifier must read the knowledge texts only
        judged = judge_statements(
            claims,
            people,
            verifier,
            verify,
            use_structured=False,
            judge_manifest=judge_manifest,
            cache_path=cache_path,
            backend=backend,
        )
        threshold = None
        if verifier == "llm":
            dev = [(j["score"], c["label"]) for j, c in zip(judged, claims) if c["split"] == "dev"]
            threshold, _ = calibrate_threshold([s for s, _ in dev], [y for _, y in dev]) if dev else (0.0, None)
        for claim, j in zip(claims, judged):
            supported = j["label"] == "supported" if j["label"] is not None else j["score"] > threshold
            rows.append(
                {
                    **{k: claim[k] for k in ("claim_id", "entity_id", "tier", "slot", "split", "text", "label")},
                    "verifier": verifier,
                    "score": j["score"],
                    "supported": supported,
                }
            )
        mine = [r for r in rows if r["verifier"] == verifier]
        summary[verifier] = {
            "threshold": threshold,
            **{split: verifier_summary([r for r in mine if r["split"] == split]) for split in ("dev", "test")},
        }
    write_parquet(pa.Table.from_pylist(rows, schema=CLAIM_RESULT_SCHEMA), out_path)
    write_json(summary, summary_path)
    log.info("verifiers on %d claims: %s", len(claims), summary)
    return summary


# ---- FActScore ---------------------------------------------------------------------------------
def score_rows(
    bios: Sequence[Mapping[str, Any]],
    facts: Sequence[Mapping[str, Any]],
    verdicts: Sequence[Mapping[str, Any]],
    tier_of: Mapping[str, str],
    gamma: int,
) -> list[dict]:
    """SCORE_SCHEMA rows: FActScore of each response under each verifier present in ``verdicts``."""
    from factgap.factscore.score import factscore

    facts_of: dict[str, list[str]] = {}
    for f in facts:
        facts_of.setdefault(f["response_id"], []).append(f["fact_id"])
    decision = {(v["verifier"], v["fact_id"]): bool(v["supported"]) for v in verdicts}
    rows = []
    for verifier in sorted({v["verifier"] for v in verdicts}):
        for bio in bios:
            decisions = [decision[(verifier, fid)] for fid in facts_of.get(bio["response_id"], [])]
            s = factscore(decisions, gamma)
            rows.append(
                {
                    "response_id": bio["response_id"],
                    "entity_id": bio["entity_id"],
                    "tier": tier_of[bio["entity_id"]],
                    "sample": bio["sample"],
                    "verifier": verifier,
                    "n_facts": s["n_facts"],
                    "n_supported": s["n_supported"],
                    "score": None if s["abstained"] else s["score"],
                    "score_lp": None if s["abstained"] else s["score_lp"],
                    "abstained": s["abstained"],
                }
            )
    return rows


def score_bios_file(bios_path, people_path, facts_path, verdict_paths: Sequence[str], gamma: int, out_path) -> dict:
    import pyarrow.parquet as pq

    bios = pq.read_table(bios_path).to_pylist()
    facts = pq.read_table(facts_path).to_pylist()
    verdicts = [v for p in verdict_paths for v in pq.read_table(p).to_pylist()]
    tier_of = {eid: e["tier"] for eid, e in read_people(people_path).items()}
    rows = score_rows(bios, facts, verdicts, tier_of, gamma)
    write_parquet(pa.Table.from_pylist(rows, schema=SCORE_SCHEMA), out_path)
    answered = [r for r in rows if not r["abstained"]]
    log.info(
        "FActScore: %d responses x verifiers, mean %.3f",
        len(rows),
        sum(r["score"] for r in answered) / max(1, len(answered)),
    )
    return {"rows": len(rows)}


# ---- knowledge of each fact ----------------------------------------------------------------------
def knowledge_rows(
    facts: Sequence[Mapping[str, Any]], probes: Sequence[Mapping[str, Any] | None], answers: Sequence[Sequence[str]]
) -> list[dict]:
    """KNOWLEDGE_SCHEMA rows: r = share of sampled answers matching the fact, and its category."""
    from factgap.factscore.knowledge import knowledge_category, knowledge_rate

    rows = []
    for fact, probe, said in zip(facts, probes, answers, strict=True):
        if probe is None:
            rows.append(
                {
                    "fact_id": fact["fact_id"],
                    "question": None,
                    "expected": None,
                    "kind": None,
                    "answers": [],
                    "r": None,
                    "category": None,
                }
            )
            continue
        r = knowledge_rate(said, probe["answer"], probe["slot"])
        rows.append(
            {
                "fact_id": fact["fact_id"],
                "question": probe["question"],
                "expected": probe["answer"],
                "kind": probe["kind"],
                "answers": list(said),
                "r": r,
                "category": knowledge_category(r),
            }
        )
    return rows


def facts_to_ask(facts: Sequence[Mapping[str, Any]], responses: str, supported: set[str] | None = None) -> list:
    """The facts a knowledge probe asks back: of every response or the greedy ones only (``#g``
    response ids), and only the ``supported`` fact ids when given."""
    if responses not in ("all", "greedy"):
        raise ValueError(f"responses must be all or greedy, got {responses!r}")
    return [
        f
        for f in facts
        if (responses == "all" or f["response_id"].endswith("#g")) and (supported is None or f["fact_id"] in supported)
    ]


def probe_fact_knowledge_file(
    manifest_path,
    facts_path,
    people_path,
    knowledge: Mapping[str, Any],
    seed: int,
    backend: str,
    out_path,
    verdicts_path=None,
) -> dict:
    """Does the model know each fact? S sampled answers to a question that asks for it (few-shot
    short-answer format, the prefill shared by the samples, each answer ending at a newline).

    With ``verdicts_path`` only the facts that verifier supports are asked (training people: only
    a true fact has a right answer to prefer). A question asked for several facts (the same fact
    in several responses of a person) is sampled once, its answers shared.
    """
    import pyarrow.parquet as pq

    from factgap.backends import make_backend
    from factgap.factscore.knowledge import answer_prompt, fact_probe

    supported = None
    if verdicts_path is not None:
        supported = {v["fact_id"] for v in pq.read_table(verdicts_path).to_pylist() if v["supported"]}
    facts = facts_to_ask(pq.read_table(facts_path).to_pylist(), knowledge["responses"], supported)
    people = read_people(people_path)
    probes = [fact_probe(f, people[f["entity_id"]]["name"]) for f in facts]
    questions = sorted({p["question"] for p in probes if p is not None})
    answers_of: dict[str, list[str]] = {}
    if questions:
        engine = make_backend(backend, manifest_path, stop=("\n",), show_progress=True)
        _, sampled = engine.greedy_and_samples(
            [answer_prompt(q) for q in questions],
            n_samples=knowledge["n_samples"],
            temperature=knowledge["temperature"],
            top_k=0,
            top_p=knowledge["top_p"],
            max_new_tokens=knowledge["max_new_tokens"],
            batch_size=knowledge["batch_size"],
            seed=seed,
            desc="fact questions",
        )
        answers_of = {q: [s.strip() for s in said] for q, said in zip(questions, sampled)}
    answers = [answers_of[p["question"]] if p is not None else [] for p in probes]
    rows = knowledge_rows(facts, probes, answers)
    write_parquet(pa.Table.from_pylist(rows, schema=KNOWLEDGE_SCHEMA), out_path)
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r["category"])] = counts.get(str(r["category"]), 0) + 1
    log.info("fact knowledge: %d facts, %d distinct questions: %s", len(facts), len(questions), counts)
    return counts


def check_people_source(spec: Mapping[str, Any]) -> None:
    """Fail before any job on a bad people file or knowledge source (names file and row)."""
    if spec["source"] == "factscore":
        for key in ("entities_path", "knowledge_db"):
            if not spec.get(key):
                raise ValueError(f"config key 's3.people.{key}': required when source is factscore")
            if not Path(spec[key]).is_file():
                raise ValueError(f"config key 's3.people.{key}': {spec[key]} is not a file")
        load_people(spec)
