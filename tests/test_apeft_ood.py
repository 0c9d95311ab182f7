"""APEFT's out-of-domain tests from local files: FAVA as a topic source, FPQA / KUQA question sets, their
judging, the evaluation shell (on a fake backend) and their place in the S3 design and reports.

Every file here is a hand-written test fixture in the layout the loaders assume (the released
layouts are unverified); none of it is data."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factgap.data.apeft import load_fava, load_ood_qa, select_items
from factgap.data.schema import DataValidationError
from factgap.factscore.pipeline import PEOPLE_SCHEMA, generate_bios_file, read_people
from factgap.factscore.topics import is_topic_id, prepare_topics_file
from factgap.preference import ood_qa
from factgap.preference.ood_qa import (
    ABSTENTION_CUES,
    OOD_QA_SCHEMA,
    REJECTION_CUES,
    contains_phrase,
    evaluate_ood_qa_file,
    judge_answer,
)

FAVA_ROWS = [
    {
        "id": "f1",
        "prompt": "Describe how volcanoes form.",
        "title": "Volcano",
        "knowledge": "A volcano is a rupture in the crust of a planet.",
    },
    {
        "id": "f2",
        "prompt": "Write a short note on the Danube.",
        "title": "Danube",
        "knowledge": ["The Danube is a river in Europe.", "It flows into the Black Sea."],
    },
    {"id": "f3", "prompt": "What is a sonnet?", "title": "Sonnet", "knowledge": ["A sonnet is a poem of 14 lines."]},
]
FPQA_ROWS = [
    {
        "id": "p1",
        "question": "Why did Einstein win the Nobel Prize for relativity?",
        "false_premise": True,
        "answers": [],
    },
    {
        "id": "p2",
        "question": "Why did Einstein win the Nobel Prize in 1921?",
        "false_premise": False,
        "answers": ["photoelectric effect"],
    },
    {"id": "p3", "question": "When did Napoleon land on the Moon?", "false_premise": 1},
    {"id": "p4", "question": "Which river flows through Vienna?", "false_premise": 0, "answers": "Danube"},
]
KUQA_ROWS = [
    {"id": "k1", "question": "What will the stock market do next year?", "unknown": True},
    {"id": "k2", "question": "What is the capital of France?", "unknown": False, "answer": ["Paris"]},
    {"id": "k3", "question": "What did Caesar eat on his 20th birthday?", "unknown": True},
    {"id": "k4", "question": "Who wrote Hamlet?", "unknown": False, "answer": ["William Shakespeare", "Shakespeare"]},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_json(path, rows):
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path


# ---- FAVA --------------------------------------------------------------------------------------
def test_fava_loads_json_lines_and_json_lists_alike(tmp_path):
    lines = load_fava(write_jsonl(tmp_path / "fava.jsonl", FAVA_ROWS))
    listed = load_fava(write_json(tmp_path / "fava.json", FAVA_ROWS))
    assert lines == listed
    assert [r["id"] for r in lines] == ["f1", "f2", "f3"]
    assert lines[0]["knowledge"] == ["A volcano is a rupture in the crust of a planet."]  # a string -> one passage
    assert lines[1]["knowledge"] == FAVA_ROWS[1]["knowledge"]


def test_fava_field_names_are_configurable(tmp_path):
    renamed = [
        {"uid": r["id"], "instruction": r["prompt"], "entity": r["title"], "evidence": r["knowledge"]}
        for r in FAVA_ROWS
    ]
    path = write_jsonl(tmp_path / "fava.jsonl", renamed)
    rows = load_fava(path, {"id": "uid", "prompt": "instruction", "title": "entity", "knowledge": "evidence"})
    assert [r["prompt"] for r in rows] == [r["prompt"] for r in FAVA_ROWS]
    by_position = load_fava(path, {"id": None, "prompt": "instruction", "title": "entity", "knowledge": "evidence"})
    assert [r["id"] for r in by_position] == ["0", "1", "2"]
    with pytest.raises(DataValidationError, match=r"row 0: missing field 'id'"):
        load_fava(path)  # the default names do not fit this file


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda rows: rows[1].pop("knowledge"), ["row 1", "missing field 'knowledge'", "reference knowledge"]),
        (lambda rows: rows[2].update(knowledge=["  ", ""]), ["row 2", "no reference knowledge text", "'knowledge'"]),
        (lambda rows: rows[0].update(knowledge={"text": "x"}), ["row 0", "'knowledge'", "got dict"]),
        (lambda rows: rows[1].update(title=["Danube"]), ["row 1", "'title'", "got list"]),
        (lambda rows: rows[2].update(prompt="   "), ["row 2", "empty field 'prompt'"]),
        (lambda rows: rows[2].update(id="f1"), ["row 2", "duplicate id 'f1'", "first seen at row 0"]),
    ],
)
def test_fava_bad_rows_name_file_row_and_field(tmp_path, damage, words):
    rows = json.loads(json.dumps(FAVA_ROWS))
    damage(rows)
    path = write_jsonl(tmp_path / "fava.jsonl", rows)
    with pytest.raises(DataValidationError) as err:
        load_fava(path)
    assert all(w in str(err.value) for w in ["fava.jsonl", *words]), str(err.value)


def test_fava_bad_files(tmp_path):
    with pytest.raises(DataValidationError, match="no such file"):
        load_fava(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataValidationError, match=r"empty\.jsonl: no rows .*empty file"):
        load_fava(tmp_path / "empty.jsonl")
    text = json.dumps(FAVA_ROWS, indent=2)
    (tmp_path / "cut.json").write_text(text[: int(len(text) * 0.7)])
    with pytest.raises(DataValidationError, match=r"cut\.json, row 1: not valid JSON .*truncated"):
        load_fava(tmp_path / "cut.json")
    raw = write_jsonl(tmp_path / "latin.jsonl", FAVA_ROWS).read_bytes().replace(b'Danube"', b'Dan\xfcbe"', 1)
    (tmp_path / "latin.jsonl").write_bytes(raw)
    with pytest.raises(DataValidationError, match=r"latin\.jsonl, row 1: not UTF-8 text in field 'title'"):
        load_fava(tmp_path / "latin.jsonl")
    (tmp_path / "scalar.jsonl").write_text('"just a string"\n')
    with pytest.raises(DataValidationError, match="row 0: expected a JSON object, got str"):
        load_fava(tmp_path / "scalar.jsonl")


def test_fava_becomes_a_topic_set_in_the_people_layout(tmp_path):
    path = write_jsonl(tmp_path / "fava.jsonl", FAVA_ROWS)
    spec = {
        "source": "fava",
        "path": str(path),
        "fields": {"id": "id", "prompt": "prompt", "title": "title", "knowledge": "knowledge"},
        "max_topics": None,
        "tiers": [],
    }
    out = tmp_path / "fava.parquet"
    assert prepare_topics_file(spec, seed=0, out_path=out) == {"test": {"fava": 3}}
    assert pq.read_schema(out).equals(PEOPLE_SCHEMA)
    people = read_people(out)
    assert sorted(people) == ["topic:fava:f1", "topic:fava:f2", "topic:fava:f3"]
    assert all(is_topic_id(e) and p["split"] == "test" and p["facts"] == {} for e, p in people.items())
    assert people["topic:fava:f2"]["name"] == "Danube" and len(people["topic:fava:f2"]["knowledge"]) == 2
    assert people["topic:fava:f1"]["prompt"] == "Describe how volcanoes form."
    two = prepare_topics_file({**spec, "max_topics": 2}, seed=0, out_path=tmp_path / "two.parquet")
    assert two == {"test": {"fava": 2}}
    with pytest.raises(ValueError, match=r"ood_topics\.path"):
        prepare_topics_file({**spec, "path": None}, seed=0, out_path=tmp_path / "none.parquet")
    with pytest.raises(ValueError, match=r"ood_topics\.tiers.*'biology'.*valid: \['fava'\]"):
        prepare_topics_file({**spec, "tiers": ["biology"]}, seed=0, out_path=tmp_path / "none.parquet")
    assert not (tmp_path / "none.parquet").exists()


class FakeTokenizer:
    chat_template = None


class FakeEngine:
    """Answers each request from a table (a generation backend's interface, no model)."""

    def __init__(self, answers):
        self.tokenizer, self.answers, self.prompts = FakeTokenizer(), answers, []

    def greedy(self, prompts, *, max_new_tokens, batch_size=16, stop=None, desc="greedy", groups=None):
        self.prompts += list(prompts)
        return [self.answers(p) for p in prompts]

    def greedy_and_samples(self, prompts, *, n_samples, **kwargs):
        return self.greedy(prompts, max_new_tokens=1), [[] for _ in prompts]


def test_fava_rows_are_asked_their_own_prompt(tmp_path, monkeypatch):
    """The topic set's template asks the Vital Articles; a FAVA row's own request is asked as it is."""
    import factgap.backends

    path = write_jsonl(tmp_path / "fava.jsonl", FAVA_ROWS)
    people = tmp_path / "fava.parquet"
    prepare_topics_file(
        {"source": "fava", "path": str(path), "fields": {}, "max_topics": None, "tiers": []}, seed=0, out_path=people
    )
    engine = FakeEngine(lambda prompt: "An answer.")
    monkeypatch.setattr(factgap.backends, "make_backend", lambda *args, **kwargs: engine)
    generation = {
        "prompt": "Tell me about {entity}.",
        "chat_template": True,
        "n_samples": 0,
        "temperature": 1.0,
        "top_p": 1.0,
        "max_new_tokens": 8,
        "batch_size": 2,
    }
    generate_bios_file(
        "manifest.json", people, "test", generation, seed=0, backend="hf", out_path=tmp_path / "bios.parquet"
    )
    bios = pq.read_table(tmp_path / "bios.parquet").to_pylist()
    assert sorted(b["prompt"] for b in bios) == sorted(r["prompt"] for r in FAVA_ROWS)
    assert sorted(engine.prompts) == sorted(r["prompt"] + "\n" for r in FAVA_ROWS)  # no chat template: plain


# ---- FPQA / KUQA -------------------------------------------------------------------------------
def test_qa_sets_load_with_each_formats_defaults(tmp_path):
    fpqa = load_ood_qa(write_jsonl(tmp_path / "fpqa.jsonl", FPQA_ROWS), "fpqa")
    assert [(q["id"], q["kind"]) for q in fpqa] == [
        ("p1", "false_premise"),
        ("p2", "true_premise"),
        ("p3", "false_premise"),
        ("p4", "true_premise"),
    ]
    assert fpqa[3]["answers"] == ["Danube"] and fpqa[2]["answers"] == []
    kuqa = load_ood_qa(write_json(tmp_path / "kuqa.json", KUQA_ROWS), "kuqa")
    assert [q["kind"] for q in kuqa] == ["unknown", "known", "unknown", "known"]
    assert kuqa[3]["answers"] == ["William Shakespeare", "Shakespeare"]
    renamed = [
        {"qid": r["id"], "q": r["question"], "is_unknown": r["unknown"], "gold": r.get("answer")} for r in KUQA_ROWS
    ]
    again = load_ood_qa(
        write_jsonl(tmp_path / "renamed.jsonl", renamed),
        "kuqa",
        {"id": "qid", "question": "q", "label": "is_unknown", "answers": "gold"},
    )
    assert again == kuqa


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda rows: rows[1].pop("false_premise"), ["row 1", "missing field 'false_premise'"]),
        (lambda rows: rows[0].update(false_premise="yes"), ["row 0", "'false_premise'", "true/false", "got str"]),
        (lambda rows: rows[2].update(false_premise=2), ["row 2", "'false_premise'", "got int 2"]),
        (lambda rows: rows[1].update(answers=[]), ["row 1", "no gold answer in field 'answers'", "true premise"]),
        (lambda rows: rows[3].update(answers=["the"]), ["row 3", "no gold answer"]),  # normalises to nothing
        (lambda rows: rows[3].update(answers=[{"text": "Danube"}]), ["row 3", "answers[0]", "got dict"]),
        (lambda rows: rows[3].update(answers=7.5), ["row 3", "'answers'", "string or a list", "got float"]),
        (lambda rows: rows[0].update(question=None), ["row 0", "missing field 'question'"]),
        (lambda rows: rows[3].update(id="p1"), ["row 3", "duplicate id 'p1'", "first seen at row 0"]),
        (lambda rows: rows[2].pop("id"), ["row 2", "missing field 'id'"]),
    ],
)
def test_qa_set_bad_rows_name_file_row_and_field(tmp_path, damage, words):
    rows = json.loads(json.dumps(FPQA_ROWS))
    damage(rows)
    path = write_jsonl(tmp_path / "fpqa.jsonl", rows)
    with pytest.raises(DataValidationError) as err:
        load_ood_qa(path, "fpqa")
    assert all(w in str(err.value) for w in ["fpqa.jsonl", *words]), str(err.value)


def test_select_items_keeps_both_kinds_and_is_seeded():
    items = [{"id": f"q{i:02d}", "kind": "unknown" if i < 15 else "known"} for i in range(20)]
    three = select_items(items, 3, seed=0, label="kuqa")
    assert {i["kind"] for i in three} == {"unknown", "known"}
    assert three == select_items(list(reversed(items)), 3, seed=0, label="kuqa")  # order-independent
    assert [i["id"] for i in three] == sorted(i["id"] for i in three)
    assert len(select_items(items, 12, seed=0, label="kuqa")) == 12
    assert select_items(items, None, seed=0, label="kuqa") == items
    assert {i["id"] for i in select_items(items, 4, seed=0, label="kuqa")} >= {i["id"] for i in three}


@pytest.mark.parametrize(
    "kind, answer, gold, right",
    [
        # false premises: right when the answer rejects or corrects the premise
        ("false_premise", "Actually, Einstein won it for the photoelectric effect.", [], True),
        ("false_premise", "Napoleon never went to the Moon.", [], True),
        ("false_premise", "There is no record of that; the premise is false.", [], True),
        ("false_premise", "Napoleon landed on the Moon in 1812.", [], False),
        ("false_premise", "", [], False),
        ("false_premise", "It was nevertheless a great prize.", [], False),  # 'never' only as a whole word
        # true premises: right when a gold answer is in the answer, normalised, whole words
        (
            "true_premise",
            "He won it for the photo-electric effect.",
            ["photoelectric effect", "photo electric effect"],
            True,
        ),
        ("true_premise", "The Danube flows through Vienna.", ["Danube"], True),
        ("true_premise", "The Danubes are rivers.", ["Danube"], False),
        ("true_premise", "The Rhine.", ["Danube"], False),
        # unknowns: right when the answer abstains
        ("unknown", "I don't know; nobody can predict the market.", [], True),
        ("unknown", "That is unknown.", [], True),
        ("unknown", "The market will rise by 7%.", [], False),
        # knowns: the gold answer, accents and articles aside
        ("known", "The capital is PARIS.", ["Paris"], True),
        ("known", "It is São Paulo.", ["Sao Paulo"], True),
        ("known", "I don't know.", ["Paris"], False),
    ],
)
def test_judge_answer_on_hand_made_answers(kind, answer, gold, right):
    cues = REJECTION_CUES if kind in ("false_premise", "true_premise") else ABSTENTION_CUES
    assert judge_answer(kind, answer, gold, cues) is right


def test_judging_uses_the_configured_cues():
    assert not judge_answer("unknown", "Nobody could tell.", [], ABSTENTION_CUES)
    assert judge_answer("unknown", "Nobody could tell.", [], ["could tell"])
    assert not contains_phrase("anything", ["", "  "])  # empty cues never match
    with pytest.raises(ValueError, match="needs gold answers"):
        judge_answer("known", "Paris", [], ABSTENTION_CUES)


def test_evaluate_ood_qa_file_writes_judged_rows(tmp_path, monkeypatch):
    import factgap.backends

    answers = {
        "What will the stock market do next year?": "Nobody knows.",
        "What is the capital of France?": "Paris is the capital.",
        "What did Caesar eat on his 20th birthday?": "Bread and olives.",
        "Who wrote Hamlet?": "Christopher Marlowe.",
    }
    engine = FakeEngine(lambda prompt: answers[prompt.removeprefix("Q: ").removesuffix("\nA:\n")])
    monkeypatch.setattr(factgap.backends, "make_backend", lambda *args, **kwargs: engine)
    path = write_jsonl(tmp_path / "kuqa.jsonl", KUQA_ROWS)
    spec = {
        "name": "kuqa",
        "format": "kuqa",
        "path": str(path),
        "fields": {},
        "max_items": None,
        "prompt": "Q: {question}\nA:",
        "max_new_tokens": 16,
        "cues": None,
    }
    out = tmp_path / "out.parquet"
    summary = evaluate_ood_qa_file(
        "manifest.json", None, spec, {"chat_template": True, "batch_size": 2}, backend="hf", seed=0, out_path=out
    )
    table = pq.read_table(out)
    assert table.schema.equals(OOD_QA_SCHEMA)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert {k: r["correct"] for k, r in rows.items()} == {"k1": True, "k2": True, "k3": False, "k4": False}
    assert rows["k1"]["kind"] == "unknown" and rows["k2"]["answer"] == "Paris is the capital."
    assert summary == {"questions": 4, "accuracy": {"known": 0.5, "unknown": 0.5}}
    # configured cues replace the defaults; max_items draws both kinds
    evaluate_ood_qa_file(
        "manifest.json",
        None,
        {**spec, "cues": ["olives"], "max_items": 2},
        {"chat_template": False, "batch_size": 2},
        backend="hf",
        seed=0,
        out_path=out,
    )
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 2 and {r["kind"] for r in rows} == {"known", "unknown"}


def test_bad_qa_file_writes_nothing(tmp_path, monkeypatch):
    import factgap.backends

    monkeypatch.setattr(factgap.backends, "make_backend", lambda *a, **k: pytest.fail("no model for bad data"))
    path = tmp_path / "fpqa.jsonl"
    path.write_bytes(b'{"id": "p1", "question": "Why did')
    spec = {
        "name": "fpqa",
        "format": "fpqa",
        "path": str(path),
        "fields": {},
        "max_items": None,
        "prompt": "{question}",
        "max_new_tokens": 16,
        "cues": None,
    }
    with pytest.raises(DataValidationError, match=r"fpqa\.jsonl, row 0: not valid JSON .*truncated"):
        evaluate_ood_qa_file(
            "m.json", None, spec, {"chat_template": True, "batch_size": 2}, "hf", 0, tmp_path / "out.parquet"
        )
    assert not (tmp_path / "out.parquet").exists()


def test_default_cues_are_stated_per_format():
    assert ood_qa.cues_of({"format": "fpqa", "cues": None}) == list(REJECTION_CUES)
    assert ood_qa.cues_of({"format": "kuqa", "cues": None}) == list(ABSTENTION_CUES)
    assert ood_qa.cues_of({"format": "kuqa", "cues": []}) == []


# ---- the S3 design and the reports -------------------------------------------------------------
@pytest.fixture()
def cfg(default_config):
    return default_config


def test_design_adds_one_file_per_variant_and_set_only_when_configured(cfg):
    from factgap.paths import ResultsLayout
    from factgap.studies import s3

    layout = ResultsLayout("res")
    effects = {r.name: r for r in s3.reports(cfg, layout)}["s3_preference_effects"]
    assert "ood_qa" not in effects.files
    cfg["s3"]["evaluation"]["ood_qa_sets"] = [
        {"name": "fpqa", "format": "fpqa", "path": "fpqa.jsonl"},
        {"name": "kuqa", "format": "kuqa", "path": "k.json"},
    ]
    s3.check_config(cfg)
    specs = {r.name: r for r in s3.reports(cfg, layout)}
    files = specs["s3_preference_effects"].files["ood_qa"]
    assert len(files) == 2 * len(s3.evaluated_variants(cfg)) == len(specs["s3_alignment_gaps"].files["ood_qa"])
    assert files[0].path == "res/s3/smollm2-135m/bios/base/ood-qa-fpqa.parquet"
    assert files[0].meta == {"model": "smollm2-135m", "variant": "base", "qa_set": "fpqa"}


@pytest.mark.parametrize(
    "change, key",
    [
        (
            lambda e: e["ood_qa_sets"].extend([{"name": "a", "format": "fpqa", "path": "x"}] * 2),
            "s3.evaluation.ood_qa_sets[1].name",
        ),
        (
            lambda e: e["ood_qa_sets"].append({"name": "mmlu", "format": "kuqa", "path": "x"}),
            "s3.evaluation.ood_qa_sets[0].name",
        ),
        (lambda e: e["ood_topics"].update(source="fava", path=None), "s3.evaluation.ood_topics.path"),
    ],
)
def test_design_rejects_bad_sets_naming_the_key(cfg, change, key):
    from factgap.studies import s3

    cfg["s3"]["evaluation"].setdefault("ood_topics", {}).setdefault("path", None)
    change(cfg["s3"]["evaluation"])
    with pytest.raises(ValueError, match=re.escape(f"config key '{key}'")):
        s3.check_config(cfg)


def _scores(path, variant_scores):
    rows = [
        {
            "response_id": f"e{i}#g",
            "entity_id": f"e{i}",
            "tier": "t",
            "sample": -1,
            "verifier": "rules",
            "n_facts": 2,
            "n_supported": 1,
            "score": s,
            "score_lp": s,
            "abstained": False,
        }
        for i, s in enumerate(variant_scores)
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def _answers(path, correct):
    rows = [
        {"id": f"q{i}", "kind": "unknown" if i % 2 else "known", "question": "?", "answer": "a", "correct": c}
        for i, c in enumerate(correct)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=OOD_QA_SCHEMA), path)
    return str(path)


def test_reports_show_each_qa_sets_accuracy_with_its_change(tmp_path):
    from factgap.reports import s3_alignment_gaps, s3_preference_effects
    from factgap.reports.common import ReportInputs

    variants = {
        "base": [0.5, 0.4, 0.6, 0.5],
        "dpo:general-convergence": [0.6, 0.5, 0.6, 0.6],
        "dpo:general+atomic-convergence": [0.6, 0.6, 0.7, 0.6],
    }
    paths = {"scores": [_scores(tmp_path / f"s{i}.parquet", v) for i, v in enumerate(variants.values())]}
    meta = {"scores": [{"model": "m", "variant": v, "test": "bios"} for v in variants]}
    options = {"verifier": "rules", "n_resamples": 200, "confidence": 0.95, "seed": 0}
    without = s3_preference_effects.build(ReportInputs(paths, meta), **options)
    assert set(without.table["metric"]) == {"factscore_bios", "factscore_bios:length_penalty"}
    assert "<set>_accuracy" not in without.notes
    correct = {
        "base": [True, True, False, True],
        "dpo:general-convergence": [True, False, False, False],
        "dpo:general+atomic-convergence": [True, True, True, True],
    }
    paths["ood_qa"] = [_answers(tmp_path / f"q{i}.parquet", c) for i, c in enumerate(correct.values())]
    meta["ood_qa"] = [{"model": "m", "variant": v, "qa_set": "kuqa"} for v in correct]
    report = s3_preference_effects.build(ReportInputs(paths, meta), **options)
    table = report.table.set_index(["variant", "metric"])
    assert list(report.table["metric"].unique()) == [
        "factscore_bios",
        "factscore_bios:length_penalty",
        "kuqa_accuracy",
        "kuqa_accuracy:known",
        "kuqa_accuracy:unknown",
    ]
    assert table.loc[("base", "kuqa_accuracy"), "value"] == pytest.approx(0.75)
    assert table.loc[("dpo:general-convergence", "kuqa_accuracy"), "change"] == pytest.approx(-0.5)
    assert "<set>_accuracy (kuqa_accuracy)" in report.notes and "kuqa_accuracy" in report.finding
    gaps = s3_alignment_gaps.build(ReportInputs(paths, meta), **options).table
    row = gaps[(gaps["metric"] == "kuqa_accuracy") & (gaps["comparison"] == "general+atomic - general")]
    assert row["diff"].iloc[0] == pytest.approx(0.75)
