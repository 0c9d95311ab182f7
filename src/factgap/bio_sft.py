"""S2 on WikiBios (Gong et al. fine-tune on biographies of known vs unknown people and score with
FActScore): the people are S3's bio set, and its machinery scores every bio.

1. Known / Unknown people: the base model's FActScore on its greedy bio of each training person (the
   primary verifier; an empty bio scores 0). The top ``share`` of the ranking is Known, the bottom
   ``share`` Unknown, so both sets have the same size; ties are broken by a seeded hash of the person.
   Test people get a category by the same cut scores (or "between").
2. LoRA SFT on reference biographies (the first ``max_words`` words of the person's knowledge text)
   under the bio request the base model answered; after every epoch, the share of supported atomic
   facts in greedy bios of the dev people (rules extractor and verifier) picks the early-stop epoch.
3. The fine-tuned models write bios of the held-out test people, scored by S3's rules
   (generate_sft_bios, extract_facts, verify_facts, score_bios).

Pure core, then the shells of the rules build_bio_training_sets and train_bio_lora.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import pyarrow as pa

from factgap.data.splits_by_subject import subject_unit_interval
from factgap.factscore.pipeline import bio_request
from factgap.io import write_parquet

log = logging.getLogger(__name__)

KNOWN, UNKNOWN, BETWEEN = "known", "unknown", "between"
BIO_RELATION = "bio"  # the relation of every dev item in the training history

BIO_SET_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("base_factscore", pa.float64(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("instruction", pa.string(), nullable=False),
        pa.field("response", pa.string(), nullable=False),
    ]
)


# ---- pure core -----------------------------------------------------------------------------------
def greedy_factscores(score_rows: Sequence[Mapping[str, Any]], verifier: str) -> dict[str, float]:
    """entity_id -> FActScore of the greedy bio under ``verifier``; an abstention (no fact) scores 0."""
    out = {}
    for r in score_rows:
        if r["sample"] == -1 and r["verifier"] == verifier:
            out[r["entity_id"]] = 0.0 if r["abstained"] or r["score"] is None else float(r["score"])
    if not out:
        raise ValueError(f"no greedy bio scored by verifier {verifier!r}")
    return out


def split_known_unknown(scores: Mapping[str, float], share: float, seed: int) -> tuple[list[str], list[str]]:
    """(Known ids, Unknown ids): the top and bottom ``share`` of people by FActScore, equal in size."""
    if not 0 < share <= 0.5:
        raise ValueError(f"share must be in (0, 0.5], got {share}")
    ranked = sorted(scores, key=lambda e: (scores[e], subject_unit_interval(e, seed)))
    k = math.floor(share * len(ranked))
    if k < 1:
        raise ValueError(f"{len(ranked)} people: a share of {share} leaves no one Known or Unknown")
    return sorted(ranked[-k:]), sorted(ranked[:k])


def categorise(score: float, unknown_ceiling: float, known_floor: float) -> str:
    """A held-out person's category by the training people's cut scores (the score at the edge of each set)."""
    if score <= unknown_ceiling and score < known_floor:
        return UNKNOWN
    if score >= known_floor and score > unknown_ceiling:
        return KNOWN
    return BETWEEN


def reference_bio(knowledge: Sequence[str], max_words: int) -> str:
    """The first ``max_words`` words of the knowledge text, ended at the last full sentence when one
    ends in the second half of the cut."""
    words = " ".join(knowledge).split()
    if len(words) <= max_words:
        return " ".join(words)
    cut = " ".join(words[:max_words])
    end = cut.rfind(". ")
    return cut[: end + 1] if end >= len(cut) // 2 else cut


def bio_set_rows(
    people: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, float],
    categories: Mapping[str, str],
    prompt: str,
    max_words: int,
) -> list[dict]:
    return [
        {
            "entity_id": eid,
            "name": people[eid]["name"],
            "split": people[eid]["split"],
            "base_factscore": scores[eid],
            "category": categories[eid],
            "instruction": bio_request(people[eid], prompt),
            "response": reference_bio(people[eid]["knowledge"], max_words),
        }
        for eid in sorted(categories)
    ]


def fact_items(
    people: Mapping[str, Mapping[str, Any]], entity_ids: Sequence[str], texts: Sequence[str], verify: Mapping
) -> list[dict]:
    """History items of bios: one per atomic fact (rules extractor), ``correct`` = supported (rules
    verifier); a bio without a fact is one unsupported item (it stated nothing true)."""
    from factgap.factscore.atomic import extract_facts_rules
    from factgap.factscore.pipeline import judge_statements

    items = []
    for eid, text in zip(entity_ids, texts, strict=True):
        facts = [{**f, "entity_id": eid} for f in extract_facts_rules(text, people[eid]["name"], f"{eid}#g")]
        if not facts:
            items.append(
                {"id": f"{eid}#none", "relation": BIO_RELATION, "category": None, "prediction": "", "correct": False}
            )
            continue
        verdicts = judge_statements(facts, people, "rules", verify)
        items.extend(
            {
                "id": f"{eid}#f{i}",
                "relation": BIO_RELATION,
                "category": None,
                "prediction": f["text"],
                "correct": v["label"] == "supported",
            }
            for i, (f, v) in enumerate(zip(facts, verdicts, strict=True))
        )
    return items


# ---- shells --------------------------------------------------------------------------------------
def build_bio_sets_file(
    people_path,
    train_scores_path,
    test_scores_path,
    verifier: str,
    share: float,
    max_words: int,
    prompt: str,
    seed: int,
    known_path,
    unknown_path,
    test_path,
) -> dict:
    """Known and Unknown training sets (reference bios) and the test people with their category."""
    import pyarrow.parquet as pq

    from factgap.factscore.pipeline import read_people

    people = read_people(people_path)
    train_scores = greedy_factscores(pq.read_table(train_scores_path).to_pylist(), verifier)
    test_scores = greedy_factscores(pq.read_table(test_scores_path).to_pylist(), verifier)
    known, unknown = split_known_unknown(train_scores, share, seed)
    unknown_ceiling, known_floor = max(train_scores[e] for e in unknown), min(train_scores[e] for e in known)
    for ids, path, category in ((known, known_path, KNOWN), (unknown, unknown_path, UNKNOWN)):
        rows = bio_set_rows(people, train_scores, dict.fromkeys(ids, category), prompt, max_words)
        write_parquet(pa.Table.from_pylist(rows, schema=BIO_SET_SCHEMA), path)
    test_categories = {e: categorise(s, unknown_ceiling, known_floor) for e, s in test_scores.items()}
    rows = bio_set_rows(people, test_scores, test_categories, prompt, max_words)
    write_parquet(pa.Table.from_pylist(rows, schema=BIO_SET_SCHEMA), test_path)
    counts = {c: sum(v == c for v in test_categories.values()) for c in (KNOWN, BETWEEN, UNKNOWN)}
    log.info(
        "bio sets: %d Known people (FActScore >= %.3f), %d Unknown (<= %.3f) of %d; test people %s",
        len(known),
        known_floor,
        len(unknown),
        unknown_ceiling,
        len(train_scores),
        counts,
    )
    return {"known": len(known), "unknown": len(unknown), **{f"test_{c}": n for c, n in counts.items()}}


def bio_epoch_evaluator(
    tokenizer, dev_people: Sequence[Mapping], people: Mapping, generation: Mapping, verify: Mapping
):
    """Per-epoch evaluation of bio training: greedy bios of the dev people, their atomic facts judged."""
    from factgap.generation import HFBackend
    from factgap.prompts import chat_prompt

    prompts = [
        chat_prompt(tokenizer, bio_request(p, generation["prompt"]), generation["chat_template"]) for p in dev_people
    ]

    def evaluate_epoch(model) -> tuple[list[dict], list[dict]]:
        backend = HFBackend(model, tokenizer, stop=(), show_progress=False)
        texts = backend.greedy(
            prompts, max_new_tokens=generation["max_new_tokens"], batch_size=generation["batch_size"], desc="dev bios"
        )
        return fact_items(people, [p["entity_id"] for p in dev_people], [t.strip() for t in texts], verify), []

    return evaluate_epoch


def dev_people_of(people: Mapping[str, Mapping[str, Any]], n: int, seed: int) -> list[dict]:
    """``n`` people of the dev split (all when fewer), drawn by a seeded hash: early stopping reads their bios."""
    dev = sorted(
        (p for p in people.values() if p["split"] == "dev"), key=lambda p: subject_unit_interval(p["entity_id"], seed)
    )
    if not dev:
        raise ValueError("the people set has no dev split: bio training needs dev people for early stopping")
    return dev[:n]


def train_bio_file(
    manifest_path,
    train_path,
    people_path,
    settings,
    generation: Mapping,
    verify: Mapping,
    n_dev_people: int,
    run_dir,
    early_stop_dir,
    convergence_dir,
    history_path,
    summary_path,
) -> dict:
    """Shell of ``train_bio_lora``: LoRA SFT on a bio set, early stop by the dev people's supported facts."""
    import pyarrow.parquet as pq

    from factgap.factscore.pipeline import read_people
    from factgap.io import read_json
    from factgap.models import load_tokenizer
    from factgap.s4.sets import to_sft_records
    from factgap.train import train_lora

    manifest = read_json(manifest_path)
    rows = pq.read_table(train_path).to_pylist()
    people = read_people(people_path)
    conversational = bool(generation["chat_template"] and getattr(load_tokenizer(manifest), "chat_template", None))
    return train_lora(
        manifest,
        to_sft_records(rows, conversational),
        partial(
            bio_epoch_evaluator,
            dev_people=dev_people_of(people, n_dev_people, settings.seed),
            people=people,
            generation=generation,
            verify=verify,
        ),
        settings,
        run_dir,
        early_stop_dir,
        convergence_dir,
        history_path,
        summary_path,
    )
