"""SliCK knowledge probing (Gekhman et al. 2024).

For each question: ``n_prompts`` few-shot prompts whose exemplars are drawn from the dev split of
the same relation; per prompt one greedy answer and ``n_samples`` sampled answers. Exact match
against all gold aliases gives P(T=0) = correct greedy / n_prompts and
P(T>0) = correct samples / (n_prompts * n_samples), and from them the four categories.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from factgap.data.schema import QA_SCHEMA
from factgap.prompts import few_shot_prompt
from factgap.text import exact_match, first_line_answer

log = logging.getLogger(__name__)


PROBE_SCHEMA = pa.schema(
    [
        *QA_SCHEMA,
        pa.field("exemplar_ids", pa.list_(pa.list_(pa.string())), nullable=False),
        pa.field("greedy_answers", pa.list_(pa.string()), nullable=False),
        pa.field("sampled_answers", pa.list_(pa.list_(pa.string())), nullable=False),
        pa.field("p_greedy", pa.float64(), nullable=False),
        pa.field("p_sample", pa.float64(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class ProbeSettings:
    n_prompts: int = 10
    n_shots: int = 4
    n_samples: int = 16
    temperature: float = 0.5
    top_k: int = 40
    max_new_tokens: int = 16
    batch_size: int = 16
    seed: int = 0

    @classmethod
    def from_config(cls, probe: Mapping, seed: int) -> ProbeSettings:
        """From the config's ``probe`` section."""
        return cls(**probe, seed=seed)


def slick_category(p_greedy: float, p_sample: float) -> str:
    """HighlyKnown: greedy always right; MaybeKnown: sometimes; WeaklyKnown: greedy never but a
    sample sometimes; Unknown: never right."""
    if not (0.0 <= p_greedy <= 1.0 and 0.0 <= p_sample <= 1.0):
        raise ValueError(f"probabilities out of [0, 1]: p_greedy={p_greedy}, p_sample={p_sample}")
    if p_greedy == 1.0:
        return "HighlyKnown"
    if p_greedy > 0.0:
        return "MaybeKnown"
    if p_sample > 0.0:
        return "WeaklyKnown"
    return "Unknown"


def draw_exemplars(
    question_id: str, pool: Sequence[Mapping], n_prompts: int, n_shots: int, seed: int
) -> list[list[Mapping]]:
    """``n_prompts`` exemplar sets of ``n_shots`` each from ``pool`` (never the question itself).

    The generator is seeded per question, so a question's prompts do not depend on which other
    questions are probed in the same run.
    """
    candidates = [e for e in pool if e["id"] != question_id]
    if len(candidates) < n_shots:
        raise ValueError(
            f"question {question_id}: only {len(candidates)} dev exemplars of its relation, need {n_shots}"
        )
    rng = random.Random(f"{seed}:{question_id}")
    return [rng.sample(candidates, n_shots) for _ in range(n_prompts)]


def build_probe_prompts(
    questions: Sequence[Mapping], exemplar_pool: Sequence[Mapping], settings: ProbeSettings
) -> tuple[list[str], list[list[list[str]]]]:
    """All prompts, question-major (question i owns prompts i*n_prompts ... ), and exemplar ids."""
    by_relation: dict[str, list[Mapping]] = {}
    for ex in exemplar_pool:
        by_relation.setdefault(ex["relation"], []).append(
            {"id": ex["id"], "question": ex["question"], "answer": ex["answers"][0]}
        )
    prompts, exemplar_ids = [], []
    for q in questions:
        pool = by_relation.get(q["relation"], [])
        sets = draw_exemplars(q["id"], pool, settings.n_prompts, settings.n_shots, settings.seed)
        prompts.extend(few_shot_prompt(q["question"], shots) for shots in sets)
        exemplar_ids.append([[e["id"] for e in shots] for shots in sets])
    return prompts, exemplar_ids


def score_question(answers: Sequence[str], greedy: Sequence[str], samples: Sequence[Sequence[str]]) -> dict:
    greedy_correct = sum(exact_match(g, answers) for g in greedy)
    n_samples = sum(len(s) for s in samples)
    sample_correct = sum(exact_match(s, answers) for group in samples for s in group)
    p_greedy = greedy_correct / len(greedy)
    p_sample = sample_correct / n_samples if n_samples else 0.0
    return {"p_greedy": p_greedy, "p_sample": p_sample, "category": slick_category(p_greedy, p_sample)}


def assemble_probe_rows(
    questions: Sequence[Mapping],
    exemplar_ids: Sequence,
    greedy_raw: Sequence[str],
    samples_raw: Sequence[Sequence[str]],
    n_prompts: int,
) -> list[dict]:
    """Join raw generations (prompt-major) back to questions and categorise them (pure)."""
    rows = []
    for i, q in enumerate(questions):
        span = slice(i * n_prompts, (i + 1) * n_prompts)
        greedy = [first_line_answer(g) for g in greedy_raw[span]]
        samples = [[first_line_answer(s) for s in group] for group in samples_raw[span]]
        rows.append(
            {
                "id": q["id"],
                "relation": q["relation"],
                "subject": q["subject"],
                "question": q["question"],
                "answers": list(q["answers"]),
                "popularity": q.get("popularity"),
                "split": q["split"],
                "exemplar_ids": exemplar_ids[i],
                "greedy_answers": greedy,
                "sampled_answers": samples,
                **score_question(q["answers"], greedy, samples),
            }
        )
    return rows


def run_probe(
    backend, questions: Sequence[Mapping], exemplar_pool: Sequence[Mapping], settings: ProbeSettings
) -> pa.Table:
    """Shell: generate with ``backend`` (see ``factgap.generation``) and return the probe table."""
    prompts, exemplar_ids = build_probe_prompts(questions, exemplar_pool, settings)
    log.info(
        "probing %d questions with %d prompts each (%d prompts, %d samples per prompt)",
        len(questions),
        settings.n_prompts,
        len(prompts),
        settings.n_samples,
    )
    greedy, samples = backend.greedy_and_samples(
        prompts,
        n_samples=settings.n_samples,
        temperature=settings.temperature,
        top_k=settings.top_k,
        max_new_tokens=settings.max_new_tokens,
        batch_size=settings.batch_size,
        seed=settings.seed,
        desc="probe",
    )
    rows = assemble_probe_rows(questions, exemplar_ids, greedy, samples, settings.n_prompts)
    return pa.Table.from_pylist(rows, schema=PROBE_SCHEMA)


def probe_dataset_file(
    manifest_path,
    questions_path,
    out_path,
    settings: ProbeSettings,
    backend: str = "auto",
    ood_relations: Sequence[str] = (),
) -> None:
    """Shell of the ``probe_knowledge`` rule: probe the train and test questions of a dataset
    (only the test questions of held-out OOD relations: they are never trained on)."""
    import pyarrow.parquet as pq

    from factgap.backends import make_backend
    from factgap.data.schema import QA_SCHEMA, check_table_columns
    from factgap.io import write_parquet

    table = check_table_columns(pq.read_table(questions_path), QA_SCHEMA, str(questions_path))
    rows = table.to_pylist()
    questions = [
        r for r in rows if r["split"] == "test" or (r["split"] == "train" and r["relation"] not in ood_relations)
    ]
    pool = [r for r in rows if r["split"] == "dev"]
    engine = make_backend(backend, manifest_path)
    write_parquet(run_probe(engine, questions, pool, settings), out_path)
