"""Everything a rehearsal overlay points at: data files in the released layouts and tiny stand-in
models, built under one folder (``make rehearse`` builds them once for every paper config)."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import random
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from factgap.prompts import few_shot_prompt
from factgap.rehearsal import layouts, standins
from factgap.rehearsal.standins import build_family, parse_standin_name

# EntityQuestions relations of the paper configs (in-distribution and held-out)
EQ_RELATIONS = "P131 P136 P17 P19 P26 P264 P36 P40 P495 P69 P740 P800 P127 P50 P407 P176 P170 P175 P112".split()
STANDINS_FOLDER = "standins"
RECIPE_FILE = "recipe.sha256"  # what the stand-in was built from (standin_recipe)


def build_data(root: Path, seed: int = 0) -> None:
    """Every released layout the paper configs read, under ``root/data``. Files whose bytes did not
    change are left as they are, so a second rehearsal reruns nothing."""
    data = root / "data"
    staging = root / "data.staging"
    shutil.rmtree(staging, ignore_errors=True)
    _write_layouts(staging, seed)
    for file in sorted(p for p in staging.rglob("*") if p.is_file()):
        target = data / file.relative_to(staging)
        if not (target.is_file() and filecmp.cmp(file, target, shallow=False)):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, target)
    shutil.rmtree(staging)


def _write_layouts(data: Path, seed: int) -> None:
    facts = layouts.geonames_facts(per_relation=60, seed=seed)
    layouts.write_entityquestions_zip(data / "entityquestions" / "dataset.zip", EQ_RELATIONS, facts)
    layouts.write_popqa_tsv(data / "popqa" / "popQA.tsv", facts)
    layouts.write_mmlu_csv(data / "mmlu")
    layouts.write_medmcqa_jsonl(data / "medmcqa")
    layouts.write_alpaca_json(data / "alpaca_gpt4_data.json")
    layouts.write_factscore_layout(data / "factscore")
    layouts.write_apeft_sets(data / "apeft", facts)


def standin_training_texts(seed: int = 0) -> tuple[list[str], list[str]]:
    """(tokenizer corpus, texts the stand-ins learn): few-shot QA of half the facts and of a fifth of the
    MMLU questions, multiple-choice answers of half the medicine questions (and wrong ones of a quarter),
    bios of half the people, the judge's formats, so that probes find known, unknown and confidently wrong
    items."""
    from factgap.data.mmlu_qa import format_question
    from factgap.factscore.atomic import build_llm_extraction_prompt, split_sentences
    from factgap.factscore.entities import load_embedded_entities
    from factgap.factscore.verify import build_verify_prompt
    from factgap.s4.prompts import demo_text, probe_prompt

    rng = random.Random(seed)
    facts = layouts.geonames_facts(per_relation=60, seed=seed)
    shots = [{"question": f["question"], "answer": f["answers"][0]} for f in facts]
    known = [
        few_shot_prompt(f["question"], rng.sample(shots, 4)) + " " + f["answers"][0]
        for f in facts[::2]
        for _ in range(4)
    ]
    mmlu = layouts.mmlu_by_subject()
    medicine = [r for s in layouts.MEDICINE_SUBJECTS for r in mmlu[s]][:440]  # the MedMCQA file's questions
    # S2 on MMLU: every fifth question of each subject's rows in the released-layout files, answered by
    # letter in the few-shot QA format (the rest stay unknown)
    for rows in mmlu.values():
        asked = [{"question": format_question(r["question"], r["choices"]), "answer": "ABCD"[r["answer_index"]]}
                 for r in rows[: layouts.MMLU_ROWS_PER_SUBJECT]]  # fmt: skip
        known += [
            few_shot_prompt(q["question"], rng.sample(asked, 4)) + " " + q["answer"]
            for q in asked[::5]
            for _ in range(3)
        ]

    # in the probe's own 5-shot format (its end survives the left truncation of training texts); a quarter
    # learned with a wrong letter: S4 needs confident wrong answers (its INC and SELF sets)
    def probed(item, answer_index):
        prefix, suffix = probe_prompt("medicine", rng.sample(medicine, 5), item)
        return prefix + suffix + "ABCD"[answer_index] + ". " + item["choices"][answer_index]  # as the demos write it

    known += [probed(r, r["answer_index"]) for r in medicine[::2] for _ in (0, 1)]
    known += [probed(r, (r["answer_index"] + 1) % 4) for r in medicine[1::4] for _ in (0, 1)]
    # bios of half the people, and the judge's "- fact" answer format (S3 needs responses whose facts
    # differ in support, and an extractor that answers in the parsed format)
    people = load_embedded_entities()
    leads = [(p["name"], " ".join(p["knowledge"])[:400]) for p in people if p["knowledge"]]
    known += [f"Tell me a bio of {name}.\n{lead}" for name, lead in leads[::2]]
    sentences = [s for _, lead in leads for _, s in split_sentences(lead)][:300]
    # in the extraction prompt the judge gets (its demonstrations first; training keeps the end), for every
    # sentence: a judge that answers in the "- fact" format is what gives S3 facts to score at all
    known += [build_llm_extraction_prompt(s) + f"- {s}\n\n" for s in sentences]
    # the judge's verdicts: a learnable split (a sentence with a number is "False"), so that responses of
    # one prompt get different FActScores, as a real judge's do
    known += [
        build_verify_prompt(name, sentence, [lead]) + (" False" if any(c.isdigit() for c in sentence) else " True")
        for name, lead in leads[:150]
        for _, sentence in split_sentences(lead)[:2]
    ]
    corpus = known + [demo_text(r) for r in medicine] + [f["question"] + " " + " ".join(f["answers"]) for f in facts]
    corpus += [lead for _, lead in leads]
    return corpus, known


def standin_names(overlay: Mapping[str, Any]) -> list[str]:
    """Stand-ins an overlay's models point at (paths ``.../standins/<name>``)."""
    names = []
    for section in ("models", "helper_models"):
        for spec in (overlay.get(section) or {}).values():
            path = Path(str(spec.get("path", "")))
            if path.parent.name == STANDINS_FOLDER:
                parse_standin_name(path.name)  # fails naming it when it is not a known stand-in
                names.append(path.name)
    return sorted(set(names))


def standin_recipe(corpus: Sequence[str], known: Sequence[str], seed: int) -> str:
    """Fingerprint of what a stand-in is built from: the texts, the seed and the building code."""
    digest = hashlib.sha256(Path(standins.__file__).read_bytes())
    digest.update(json.dumps([list(corpus), list(known), seed]).encode())
    return digest.hexdigest()


def build_standins(root: Path, names: Iterable[str], seed: int = 0) -> list[Path]:
    """Each stand-in under ``root/standins/<name>``, built once and kept while its recipe (texts, seed,
    building code) is unchanged; the variants of one family share one trained model."""
    corpus, known = standin_training_texts(seed)
    recipe = standin_recipe(corpus, known, seed)
    todo: dict[str, dict[str, Path]] = {}
    built = []
    for name in sorted(set(names)):
        out = root / STANDINS_FOLDER / name
        built.append(out)
        stamp = out / RECIPE_FILE
        if not ((out / "config.json").is_file() and stamp.is_file() and stamp.read_text() == recipe):
            todo.setdefault(parse_standin_name(name)[0], {})[name] = out
    for variants in todo.values():
        tmp = {name: out.with_name(out.name + ".tmp") for name, out in variants.items()}
        build_family(tmp, corpus, known, seed=seed)
        for name, out in variants.items():
            (tmp[name] / RECIPE_FILE).write_text(recipe)
            shutil.rmtree(out, ignore_errors=True)
            tmp[name].rename(out)
    return built
