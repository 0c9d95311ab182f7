"""Test-time evaluation: exact match under 0-shot, few-shot and few-shot chain-of-thought prompts.

Few-shot exemplars come from the Known training split, per relation (S2 protocol); the same
exemplars, with rationales written by a configurable model, make the chain-of-thought prompts.
Every prediction row carries the test item's SliCK category from the *base* model's probe, so
results can be reported per knowledge category.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

import pyarrow as pa

from factgap.naming import PROMPT_MODES
from factgap.prompts import cot_prompt, few_shot_prompt, qa_prompt, rationale_prompt
from factgap.text import cot_final_answer, exact_match, first_line_answer

# Where generation stops: a direct answer at its line's end, a chain of thought before the next
# exemplar. Passed explicitly so an engine shared with other tasks (other stops) answers the same.
ANSWER_STOP = ("\n",)
COT_STOP = ("\n\n", "\nQ:")

log = logging.getLogger(__name__)


EXEMPLAR_SCHEMA = pa.schema(
    [
        pa.field("relation", pa.string(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("answer", pa.string(), nullable=False),
        pa.field("rationale", pa.string(), nullable=False),
    ]
)

PREDICTION_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("relation", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("popularity", pa.float64()),
        pa.field("prompt_mode", pa.string(), nullable=False),
        pa.field("variant", pa.string(), nullable=False),
        pa.field("raw_output", pa.string(), nullable=False),
        pa.field("prediction", pa.string(), nullable=False),
        pa.field("correct", pa.bool_(), nullable=False),
    ]
)


def choose_exemplars(known_rows: Sequence[Mapping], relations: Sequence[str], n_shots: int, seed: int) -> list[dict]:
    """``n_shots`` Known training examples per relation; a relation with too few borrows from
    the others (seeded), so every test prompt has exactly ``n_shots`` exemplars."""
    by_relation: dict[str, list[Mapping]] = defaultdict(list)
    for row in sorted(known_rows, key=lambda r: r["id"]):
        by_relation[row["relation"]].append(row)
    if len(known_rows) < n_shots:
        raise ValueError(f"the Known training split has {len(known_rows)} examples, fewer than n_shots={n_shots}")
    chosen = []
    for relation in sorted(set(relations)):
        rng = random.Random(f"{seed}:exemplars:{relation}")
        own = by_relation.get(relation, [])
        picks = rng.sample(own, min(n_shots, len(own)))
        if len(picks) < n_shots:
            others = [r for r in sorted(known_rows, key=lambda r: r["id"]) if r["relation"] != relation]
            picks += rng.sample(others, n_shots - len(picks))
        for position, row in enumerate(picks):
            chosen.append(
                {
                    "relation": relation,
                    "position": position,
                    "id": row["id"],
                    "question": row["question"],
                    "answer": row["target"],
                }
            )
    return chosen


def rationale_prompts(exemplars: Sequence[Mapping]) -> list[str]:
    return [rationale_prompt(e["question"], e["answer"]) for e in exemplars]


def clean_rationale(text: str, answer: str) -> str:
    """First line of the rationale; a rationale that never names the answer gets a plain one so
    the chain of thought still ends in the exemplar's answer."""
    line = first_line_answer(text)
    return line if line else f"The answer is {answer}."


def build_prompts(test_rows: Sequence[Mapping], mode: str, exemplars: Sequence[Mapping]) -> list[str]:
    if mode not in PROMPT_MODES:
        raise ValueError(f"prompt mode {mode!r} is not one of {PROMPT_MODES}")
    shots: dict[str, list[Mapping]] = defaultdict(list)
    for e in sorted(exemplars, key=lambda e: (e["relation"], e["position"])):
        shots[e["relation"]].append(e)
    prompts = []
    for row in test_rows:
        if mode == "zero_shot":
            prompts.append(qa_prompt(row["question"]))
            continue
        relation_shots = shots.get(row["relation"])
        if not relation_shots:
            raise ValueError(f"no exemplars for relation {row['relation']!r}")
        prompts.append(
            few_shot_prompt(row["question"], relation_shots)
            if mode == "four_shot"
            else cot_prompt(row["question"], relation_shots)
        )
    return prompts


def extract_prediction(raw: str, mode: str) -> str:
    """The answer in a continuation. Under CoT prompts: the text after the last "A:", or, when the
    model answers at once after "Reasoning:" (fine-tuned models often do), its first line; a
    rationale sentence taken for an answer never matches a gold answer, so the fallback is safe."""
    if mode != "four_shot_cot":
        return first_line_answer(raw)
    return cot_final_answer(raw) or first_line_answer(raw)


def score_predictions(test_rows: Sequence[Mapping], raw_outputs: Sequence[str], mode: str, variant: str) -> list[dict]:
    rows = []
    for row, raw in zip(test_rows, raw_outputs, strict=True):
        pred = extract_prediction(raw, mode)
        rows.append(
            {
                "id": row["id"],
                "relation": row["relation"],
                "category": row["category"],
                "popularity": row.get("popularity"),
                "prompt_mode": mode,
                "variant": variant,
                "raw_output": raw,
                "prediction": pred,
                "correct": exact_match(pred, row["answers"]),
            }
        )
    return rows


def evaluate(
    backend,
    test_rows: Sequence[Mapping],
    mode: str,
    variant: str,
    exemplars: Sequence[Mapping],
    max_new_tokens: int,
    cot_max_new_tokens: int,
    batch_size: int,
) -> pa.Table:
    """Shell: generate answers for every test question and score them."""
    if not test_rows:
        raise ValueError(f"{variant} {mode}: empty test set")
    prompts = build_prompts(test_rows, mode, exemplars)
    cot = mode == "four_shot_cot"
    # few-shot prompts of one relation share their exemplar block: prefill it once per relation
    groups = None if mode == "zero_shot" else [row["relation"] for row in test_rows]
    raw = backend.greedy(
        prompts,
        max_new_tokens=cot_max_new_tokens if cot else max_new_tokens,
        batch_size=batch_size,
        stop=COT_STOP if cot else ANSWER_STOP,
        desc=f"{variant}/{mode}",
        groups=groups,
    )
    rows = score_predictions(test_rows, raw, mode, variant)
    accuracy = sum(r["correct"] for r in rows) / len(rows)
    log.info("%s %s: exact match %.3f on %d questions", variant, mode, accuracy, len(rows))
    return pa.Table.from_pylist(rows, schema=PREDICTION_SCHEMA)


def write_exemplars_file(
    manifest_path,
    known_train_path,
    test_paths,
    n_shots: int,
    seed: int,
    max_new_tokens: int,
    batch_size: int,
    out_path,
    backend: str = "auto",
) -> None:
    """Shell of ``write_cot_rationales``: choose exemplars and let the rationale model explain them."""
    import pyarrow.parquet as pq

    from factgap.backends import make_backend
    from factgap.io import write_parquet

    known = pq.read_table(known_train_path).to_pylist()
    relations = sorted({rel for path in test_paths for rel in pq.read_table(path).column("relation").to_pylist()})
    exemplars = choose_exemplars(known, relations, n_shots, seed)
    engine = make_backend(backend, manifest_path)
    raw = engine.greedy(
        rationale_prompts(exemplars), max_new_tokens=max_new_tokens, batch_size=batch_size, desc="rationales"
    )
    for exemplar, text in zip(exemplars, raw):
        exemplar["rationale"] = clean_rationale(text, exemplar["answer"])
        log.info("rationale for %r -> %r: %s", exemplar["question"], exemplar["answer"], exemplar["rationale"])
    write_parquet(pa.Table.from_pylist(exemplars, schema=EXEMPLAR_SCHEMA), out_path)


def evaluate_file(
    manifest_path,
    adapter_dir,
    test_path,
    exemplars_path,
    mode: str,
    variant: str,
    max_new_tokens: int,
    cot_max_new_tokens: int,
    batch_size: int,
    out_path,
    backend: str = "auto",
    engine=None,
) -> None:
    """Shell of ``evaluate_model``; ``engine``: a backend already loaded with the variant's model."""
    import pyarrow.parquet as pq

    from factgap.backends import make_backend
    from factgap.io import write_parquet

    engine = engine or make_backend(backend, manifest_path, adapter=adapter_dir)
    table = evaluate(
        engine,
        pq.read_table(test_path).to_pylist(),
        mode,
        variant,
        pq.read_table(exemplars_path).to_pylist(),
        max_new_tokens,
        cot_max_new_tokens,
        batch_size,
    )
    write_parquet(table, out_path)


def evaluate_prompt_modes_file(
    manifest_path,
    adapter_dir,
    test_path,
    exemplars_path,
    out_paths: Mapping[str, str],
    variant: str,
    max_new_tokens: int,
    cot_max_new_tokens: int,
    batch_size: int,
    backend: str = "auto",
) -> None:
    """Shell of ``evaluate_model_prompt_modes``: ``evaluate_file`` for every prompt mode of ``out_paths``
    (mode -> output file) with one model load; each file as its own job writes it."""
    from factgap.backends import make_backend

    unknown = sorted(set(out_paths) - set(PROMPT_MODES))
    if unknown:
        raise ValueError(f"prompt modes {unknown} are not in {PROMPT_MODES}")
    engine = make_backend(backend, manifest_path, adapter=adapter_dir)
    for mode, out_path in out_paths.items():
        evaluate_file(
            manifest_path,
            adapter_dir,
            test_path,
            exemplars_path,
            mode,
            variant,
            max_new_tokens,
            cot_max_new_tokens,
            batch_size,
            out_path,
            backend,
            engine=engine,
        )
