"""S3 part 1 shells: people selection, bios, FActScore aggregation, knowledge rows, verifier metrics,
and the FActScore-layout validation that runs before any job."""

import math

import pytest
from s3_fixtures import write_factscore_layout

from factgap.factscore import pipeline as P
from factgap.reports.s3_verifiers import cohen_kappa


def _people(n_per_tier=20):
    return [
        {
            "entity_id": f"{t}:{i}",
            "name": f"Person {t} {i}",
            "tier": t,
            "knowledge": ["x"],
            "description": "",
            "facts": {},
        }
        for t in ("a", "b")
        for i in range(n_per_tier)
    ]


def test_select_people_is_disjoint_stratified_and_capped():
    chosen = P.select_people(_people(), {"dev": 0.25, "test": 0.25}, {"train": None, "dev": 3, "test": 4}, seed=1)
    by = {}
    for p in chosen:
        by.setdefault((p["tier"], p["split"]), []).append(p["entity_id"])
    assert {k: len(v) for k, v in by.items()} == {
        ("a", "dev"): 3,
        ("a", "test"): 4,
        ("a", "train"): 10,
        ("b", "dev"): 3,
        ("b", "test"): 4,
        ("b", "train"): 10,
    }
    assert len({p["entity_id"] for p in chosen}) == len(chosen)
    again = P.select_people(
        list(reversed(_people())), {"dev": 0.25, "test": 0.25}, {"train": None, "dev": 3, "test": 4}, seed=1
    )
    assert [p["entity_id"] for p in again] == [p["entity_id"] for p in chosen]  # order-free, seeded


def test_bio_rows_name_greedy_and_samples():
    rows = P.bio_rows(["e1", "e2"], ["p1", "p2"], [" g1 ", "g2"], [["s0", "s1"], ["t0", "t1"]])
    assert [r["response_id"] for r in rows] == ["e1#g", "e1#s0", "e1#s1", "e2#g", "e2#s0", "e2#s1"]
    assert rows[0]["text"] == "g1" and rows[0]["sample"] == -1 and rows[2]["sample"] == 1


def test_score_rows_follow_the_factscore_definition():
    bios = [
        {"response_id": "e1#g", "entity_id": "e1", "sample": -1},
        {"response_id": "e2#g", "entity_id": "e2", "sample": -1},
    ]
    facts = [{"response_id": "e1#g", "fact_id": f"e1#g#f{i}"} for i in range(4)]
    verdicts = [{"verifier": "rules", "fact_id": f"e1#g#f{i}", "supported": i < 3} for i in range(4)]
    rows = P.score_rows(bios, facts, verdicts, {"e1": "top", "e2": "rare"}, gamma=10)
    first, second = rows
    assert first["n_facts"] == 4 and first["n_supported"] == 3 and first["score"] == 0.75
    assert math.isclose(first["score_lp"], 0.75 * math.exp(1 - 10 / 4))
    assert second["abstained"] and second["score"] is None and second["n_facts"] == 0


def test_knowledge_rows_categories():
    facts = [{"fact_id": "a"}, {"fact_id": "b"}, {"fact_id": "c"}, {"fact_id": "d"}]
    probe = {"question": "In what year was X born?", "answer": "1879", "slot": "birth_year", "kind": "template"}
    rows = P.knowledge_rows(
        facts, [probe, probe, probe, None], [["1879", "in 1879"], ["1879", "1880"], ["1900", "no idea"], []]
    )
    assert [r["category"] for r in rows] == ["known", "potentially_known", "unknown", None]
    assert rows[1]["r"] == 0.5 and rows[3]["r"] is None


def test_verifier_summary_and_kappa():
    rows = [
        {"label": True, "supported": True, "score": 0.9},
        {"label": False, "supported": True, "score": 0.6},
        {"label": False, "supported": False, "score": 0.1},
        {"label": True, "supported": False, "score": 0.4},
    ]
    summary = P.verifier_summary(rows)
    assert summary["accuracy"] == 0.5 and summary["auc"] == 0.75 and summary["n"] == 4
    assert cohen_kappa([True, False, True, False], [True, False, True, False]) == 1.0
    assert cohen_kappa([True, True, False, False], [True, False, True, False]) == 0.0


def test_claim_slots_read_from_text_when_no_structured_slots():
    entity = {
        "name": "Ada Lovelace",
        "facts": {},
        "knowledge": ["Ada Lovelace (10 December 1815 - 27 November 1852) was an English mathematician."],
    }
    slots = P.claim_slots(entity)
    assert slots.get("birth_year") == 1815 and slots.get("death_year") == 1852
    assert P.claim_slots({"name": "X", "facts": {"birth_year": 1900}, "knowledge": []}) == {"birth_year": 1900}


def test_factscore_layout_loads(tmp_path):
    entities, db = write_factscore_layout(tmp_path)
    people = P.load_people(
        {"source": "factscore", "entities_path": str(entities), "knowledge_db": str(db), "tier": "paper"}
    )
    assert len(people) >= 9 and all(p["tier"] == "paper" and p["knowledge"] for p in people)
    assert not any("<s>" in k for p in people for k in p["knowledge"])


@pytest.mark.parametrize(
    "damage, words",
    [
        ("missing", ("row 5", "not in knowledge source")),
        ("empty", ("empty document", "row 6")),
        ("malformed", ("row 4", "malformed")),
    ],
)
def test_bad_factscore_layout_names_file_and_row(tmp_path, damage, words):
    entities, db = write_factscore_layout(tmp_path, damage=damage)
    spec = {"source": "factscore", "entities_path": str(entities), "knowledge_db": str(db), "tier": "paper"}
    with pytest.raises(ValueError) as err:
        P.check_people_source(spec)
    message = str(err.value)
    assert all(w in message for w in words), message
    assert str(entities) in message or str(db) in message


def test_check_people_source_needs_files(tmp_path):
    (tmp_path / "x.txt").write_text("Ada Lovelace\n")
    with pytest.raises(ValueError, match="s3.people.knowledge_db"):
        P.check_people_source({"source": "factscore", "entities_path": str(tmp_path / "x.txt"), "knowledge_db": None})
    with pytest.raises(ValueError, match="s3.people.knowledge_db.*is not a file"):
        P.check_people_source(
            {
                "source": "factscore",
                "entities_path": str(tmp_path / "x.txt"),
                "knowledge_db": str(tmp_path / "missing.db"),
            }
        )
