"""Every evaluation of one preference-tuned S3 variant in one process.

The tuned model (adapter merged) loads once and answers every test: the held-out people's bios, the
out-of-domain topics, the QA test set, the FPQA / KUQA sets and MMLU; then the base model ranks the
tuned bios and topic answers for the token distribution shift. Each task writes the file it wrote as a
job of its own, with the same function (``engine=`` passes the loaded model), so the outputs are the
same; what goes is the start-up each job paid (on a CPU ~8 s of imports and first model load, five
times per variant).

On vLLM the generation engine serves the generation tasks and is shut down before the HF model that
scores MMLU and the token shift loads (vLLM has no forward pass to score with an adapter merged here).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BiosTask:
    """Greedy answers of one people / topics set's test split (``generate_bios_file``)."""

    people_path: str
    generation: Mapping[str, Any]
    out_path: str


@dataclass(frozen=True)
class QATask:
    """Exact match on a QA test set under one prompt mode (``evaluate_file``)."""

    test_path: str
    exemplars_path: str
    mode: str
    max_new_tokens: int
    cot_max_new_tokens: int
    batch_size: int
    out_path: str


@dataclass(frozen=True)
class OODQATask:
    """One FPQA / KUQA question set (``evaluate_ood_qa_file``)."""

    spec: Mapping[str, Any]
    generation: Mapping[str, Any]
    out_path: str


@dataclass(frozen=True)
class MMLUTask:
    """0-shot multiple choice on the MMLU tests (``evaluate_mc_file``)."""

    items_path: str
    id_subjects: Sequence[str]
    ood_subjects: Sequence[str]
    domain: str
    scoring: str
    batch_size: int
    out_path: str


@dataclass(frozen=True)
class TokenShiftTask:
    """Ranks of the tuned greedy answers under the base model (``measure_token_shift_file``)."""

    chat_template: bool
    marginal_max: int
    batch_size: int
    out_path: str


def evaluate_tuned_variant(
    manifest_path,
    adapter_dir,
    *,
    variant: str,
    backend: str,
    seed: int,
    bios: BiosTask,
    topics: BiosTask | None,
    qa: QATask | None,
    ood_qa: Sequence[OODQATask],
    mmlu: MMLUTask | None,
    token_shift: TokenShiftTask,
) -> dict[str, float]:
    """Run every task of one tuned variant; returns each task's seconds (also logged)."""
    from factgap.backends import make_backend
    from factgap.evaluate import evaluate_file
    from factgap.factscore.pipeline import generate_bios_file
    from factgap.preference.ood_qa import evaluate_ood_qa_file
    from factgap.preference.token_shift import measure_token_shift_file
    from factgap.s4.pipeline import evaluate_mc_file

    seconds: dict[str, float] = {}

    @contextmanager
    def timed(name: str):
        start = time.monotonic()
        yield
        seconds[name] = round(time.monotonic() - start, 1)
        log.info("%s: %s done in %.1f s", variant, name, seconds[name])

    with timed("load"):
        engine = make_backend(backend, manifest_path, adapter=adapter_dir, stop=(), show_progress=True)
    for name, task in (("bios", bios), ("topics", topics)):
        if task is not None:
            with timed(name):
                generate_bios_file(
                    manifest_path,
                    task.people_path,
                    split="test",
                    generation=task.generation,
                    seed=seed,
                    backend=backend,
                    out_path=task.out_path,
                    engine=engine,
                )
    if qa is not None:
        with timed("qa"):
            evaluate_file(
                manifest_path,
                adapter_dir,
                qa.test_path,
                qa.exemplars_path,
                mode=qa.mode,
                variant=variant,
                max_new_tokens=qa.max_new_tokens,
                cot_max_new_tokens=qa.cot_max_new_tokens,
                batch_size=qa.batch_size,
                out_path=qa.out_path,
                engine=engine,
            )
    for task in ood_qa:
        with timed(f"ood-qa {task.spec['name']}"):
            evaluate_ood_qa_file(
                manifest_path, adapter_dir, task.spec, task.generation, backend, seed, task.out_path, engine=engine
            )
    if getattr(engine, "name", None) != "hf":  # vLLM: free the GPU before the HF scoring model loads
        engine = None
        gc.collect()
    if mmlu is not None:
        with timed("mmlu"):
            evaluate_mc_file(
                manifest_path,
                adapter_dir,
                None,
                mmlu.items_path,
                mmlu.id_subjects,
                mmlu.ood_subjects,
                variant,
                domain=mmlu.domain,
                scoring=mmlu.scoring,
                batch_size=mmlu.batch_size,
                out_path=mmlu.out_path,
                testsets=("id", "ood"),
                engine=engine,
            )
    engine = None
    gc.collect()
    responses = {"in_domain": bios.out_path, **({"out_of_domain": topics.out_path} if topics is not None else {})}
    with timed("token shift"):
        measure_token_shift_file(
            manifest_path,
            responses,
            token_shift.out_path,
            chat_template=token_shift.chat_template,
            marginal_max=token_shift.marginal_max,
            batch_size=token_shift.batch_size,
        )
    return seconds
