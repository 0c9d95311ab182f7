"""Out-of-domain accuracy of study S3 on APEFT's question sets: FPQA (false premises) and KUQA (known /
unknown questions), loaded from local files by ``factgap.data.apeft``.

A question of the first kind (a false premise, an unknown answer) is answered right when the answer
rejects the premise or abstains: it holds one of the configured cues. A question of the second kind
(a true premise, a known answer) is answered right when the answer contains a gold answer, both
normalised as exact match normalises them (``factgap.text.normalize_answer``), whole words only.
APEFT's own judging of these answers is not known here (UNVERIFIED): the cues are config options and
the defaults below are guesses. The judging is pure; ``evaluate_ood_qa_file`` is the shell.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from factgap.data.apeft import CUE_KINDS, QA_FORMATS, load_ood_qa, select_items
from factgap.io import write_parquet
from factgap.text import normalize_answer

log = logging.getLogger(__name__)

# UNVERIFIED defaults: phrases of an answer that rejects or corrects a premise ...
REJECTION_CUES = (
    "false premise",
    "premise is",
    "there is no",
    "there was no",
    "there are no",
    "there were no",
    "did not",
    "does not",
    "do not",
    "never",
    "not true",
    "not correct",
    "incorrect",
    "actually",
    "in fact",
    "misconception",
    "no evidence",
    "no record",
    "not accurate",
    "myth",
)
# ... and of one that abstains (normalised as the answers are: "don't" is matched as "dont").
ABSTENTION_CUES = (
    "i dont know",
    "i do not know",
    "unknown",
    "not known",
    "no one knows",
    "nobody knows",
    "cannot be known",
    "impossible to know",
    "not possible to know",
    "cannot predict",
    "cannot be predicted",
    "impossible to predict",
    "uncertain",
    "unclear",
    "no definitive answer",
    "no definite answer",
    "no clear answer",
    "cannot answer",
    "cant answer",
    "unanswerable",
    "not sure",
    "open question",
    "no consensus",
    "speculative",
)
DEFAULT_CUES = {"fpqa": REJECTION_CUES, "kuqa": ABSTENTION_CUES}

OOD_QA_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # false_premise | true_premise | unknown | known
        pa.field("question", pa.string(), nullable=False),
        pa.field("answer", pa.string(), nullable=False),  # the greedy answer
        pa.field("correct", pa.bool_(), nullable=False),
    ]
)


def _padded(text: str) -> str:
    return f" {normalize_answer(text)} "


def contains_phrase(answer: str, phrases: Iterable[str]) -> bool:
    """Whether the normalised answer holds a normalised phrase as whole words (empty phrases never match)."""
    text = _padded(answer)
    return any(normalize_answer(p) and _padded(p) in text for p in phrases)


def judge_answer(kind: str, answer: str, gold: Sequence[str], cues: Sequence[str]) -> bool:
    """Whether ``answer`` is right for a question of ``kind``: a cue for a false premise or an unknown,
    a gold answer for a true premise or a known question."""
    if kind in CUE_KINDS:
        return contains_phrase(answer, cues)
    if not gold:
        raise ValueError(f"a {kind!r} question needs gold answers")
    return contains_phrase(answer, gold)


def cues_of(spec: Mapping[str, Any]) -> list[str]:
    """The configured cues, or the format's defaults (null)."""
    cues = spec.get("cues")
    return list(DEFAULT_CUES[spec["format"]] if cues is None else cues)


def load_qa_set(spec: Mapping[str, Any], seed: int) -> list[dict]:
    """The questions of one configured set (``s3.evaluation.ood_qa_sets`` entry), at most ``max_items``."""
    items = load_ood_qa(spec["path"], spec["format"], spec.get("fields"))
    return select_items(items, spec.get("max_items"), seed, f"ood_qa:{spec['name']}")


def score_rows(items: Sequence[Mapping[str, Any]], answers: Sequence[str], cues: Sequence[str]) -> list[dict]:
    """OOD_QA_SCHEMA rows: each item with its answer, judged."""
    return [
        {
            "id": item["id"],
            "kind": item["kind"],
            "question": item["question"],
            "answer": answer.strip(),
            "correct": judge_answer(item["kind"], answer, item["answers"], cues),
        }
        for item, answer in zip(items, answers, strict=True)
    ]


def accuracy_by_kind(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    total, right = Counter(r["kind"] for r in rows), Counter(r["kind"] for r in rows if r["correct"])
    return {kind: right[kind] / total[kind] for kind in sorted(total)}


def evaluate_ood_qa_file(
    manifest_path,
    adapter_dir,
    spec: Mapping[str, Any],
    generation: Mapping[str, Any],
    backend: str,
    seed: int,
    out_path,
    engine=None,
) -> dict:
    """Greedy answers of the model (with the adapter, if any) to one question set, judged and written.

    ``spec``: the set's config entry (``name, format, path, fields, max_items, prompt, max_new_tokens,
    cues``); ``generation``: ``chat_template`` and ``batch_size`` (s3.generation's); ``engine``: a backend
    already loaded with the model."""
    from factgap.backends import make_backend
    from factgap.prompts import chat_prompt

    if spec["format"] not in QA_FORMATS:
        raise ValueError(f"unknown QA format {spec['format']!r}")
    items = load_qa_set(spec, seed)
    engine = engine or make_backend(backend, manifest_path, adapter=adapter_dir, stop=(), show_progress=True)
    prompts = [
        chat_prompt(engine.tokenizer, spec["prompt"].format(question=i["question"]), generation["chat_template"])
        for i in items
    ]
    answers = engine.greedy(
        prompts, max_new_tokens=spec["max_new_tokens"], batch_size=generation["batch_size"], stop=(), desc=spec["name"]
    )
    rows = score_rows(items, answers, cues_of(spec))
    write_parquet(pa.Table.from_pylist(rows, schema=OOD_QA_SCHEMA), out_path)
    accuracy = accuracy_by_kind(rows)
    log.info(
        "%s (%s): %d questions, accuracy by kind %s",
        spec["name"],
        spec["format"],
        len(rows),
        {k: round(v, 3) for k, v in accuracy.items()},
    )
    return {"questions": len(rows), "accuracy": accuracy}
