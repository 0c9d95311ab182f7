"""S3 part 2 shells: pairs from part 1's files (pure parts), the dev people, the training settings."""

import math

import pytest

from factgap.preference import pipeline as PP

SPEC = {
    "general": {"threshold": 0.0, "max_pairs_per_prompt": None, "score": "score"},
    "atomic": {"rejected_from": "model", "chosen_from": "sample", "r_low": 0.0, "r_high": 1.0, "per_general": 1.0},
    "rso": {"beta": 0.5, "num_samples": None},
    "dev_fraction": 0.25,
}


def responses():
    rows = []
    for person, scores in (("p1", [0.9, 0.5, 0.1]), ("p2", [0.2, 0.2, math.nan]), ("p3", [0.7, 0.3, 0.0])):
        rows += [
            {"prompt": f"bio of {person}", "response": f"{person}-r{i}", "score": s, "prompt_id": person}
            for i, s in enumerate(scores)
        ]
    return rows


def facts():
    def fact(fid, person, r, answers):
        return {
            "fact_id": fid,
            "prompt": f"q {fid}",
            "expected_answer": "1879",
            "r": r,
            "slot": "birth_year",
            "entity": person,
            "entity_id": person,
            "samples": [{"answer": a, "correct": a == "1879"} for a in answers],
        }

    return [
        fact("f1", "p1", 0.5, ["1879", "1880"]),
        fact("f2", "p3", 1.0, ["1879", "1879"]),
        fact("f3", "p2", 0.0, ["1900", "1901"]),
        fact("f4", "p3", 0.5, ["1879", "1850"]),
    ]


def test_dev_people_is_a_seeded_share_leaving_training_people():
    ids = [f"p{i}" for i in range(10)]
    dev = PP.dev_people(ids, 0.25, seed=0)
    assert len(dev) == 2 and dev <= set(ids)
    assert dev == PP.dev_people(list(reversed(ids)), 0.25, seed=0)  # order does not matter
    assert PP.dev_people(["a", "b"], 0.9, seed=0) != {"a", "b"}  # one person stays for training
    with pytest.raises(ValueError):
        PP.dev_people(["a"], 0.5, seed=0)


def test_scored_responses_take_one_verifier_and_mark_abstentions_nan():
    bios = [
        {"response_id": "p1#g", "entity_id": "p1", "prompt": "bio", "text": "t1"},
        {"response_id": "p1#s0", "entity_id": "p1", "prompt": "bio", "text": "t2"},
    ]
    scores = [
        {"response_id": "p1#g", "verifier": "rules", "score": 0.5, "score_lp": 0.2},
        {"response_id": "p1#g", "verifier": "llm", "score": 0.9, "score_lp": 0.9},
        {"response_id": "p1#s0", "verifier": "rules", "score": None, "score_lp": None},
    ]
    rows = PP.scored_responses(bios, scores, "rules", "score_lp")
    assert rows[0]["score"] == 0.2 and math.isnan(rows[1]["score"]) and rows[0]["prompt_id"] == "p1"


def test_pair_sets_general_atomic_and_mixed():
    general = PP.build_pairs(responses(), facts(), "general", "facttune", SPEC, seed=0)
    assert {p["source"] for p in general} == {"general"}
    assert len(general) == 6  # p1: 3 pairs; p2: none (tie, NaN); p3: 3 pairs
    atomic = PP.build_pairs(responses(), facts(), "atomic", "facttune", SPEC, seed=0)
    assert [(p["origin_id"], p["chosen"], p["rejected"]) for p in atomic] == [
        ("f1", "1879", "1880"),
        ("f4", "1879", "1850"),
    ]
    mixed = PP.build_pairs(responses(), facts(), "general+atomic", "facttune", SPEC, seed=0)
    # ratio 1 with fewer atomic pairs than general ones: every general pair stays, both atomic ones are added
    assert sorted(p["source"] for p in mixed).count("atomic") == 2
    assert len(mixed) == 8 and {p["pair_id"] for p in general} <= {p["pair_id"] for p in mixed}
    with pytest.raises(ValueError):
        PP.build_pairs(responses(), facts(), "everything", "facttune", SPEC, seed=0)


def test_rso_sampler_pairs_a_subset_of_the_responses():
    rso = PP.build_pairs(responses(), facts(), "general", "rso", SPEC, seed=0)
    general = PP.build_pairs(responses(), facts(), "general", "facttune", SPEC, seed=0)
    assert {p["pair_id"] for p in rso} <= {p["pair_id"] for p in general}


def test_split_pairs_by_person_never_mixes_a_person_across_parts():
    pairs = PP.build_pairs(
        responses(),
        facts(),
        "general+atomic",
        "facttune",
        {**SPEC, "atomic": {**SPEC["atomic"], "per_general": None}},
        seed=0,
    )
    origin = {"p1": "p1", "p2": "p2", "p3": "p3"} | {f["fact_id"]: f["entity_id"] for f in facts()}
    train, dev = PP.split_pairs(pairs, origin, {"p3"})
    assert all(origin[p["origin_id"]] == "p3" for p in dev) and dev
    assert all(origin[p["origin_id"]] != "p3" for p in train) and train


def test_asked_facts_one_per_question_with_right_and_wrong_samples():
    facts_rows = [
        {"fact_id": "a#g#f0", "entity_id": "e1", "slot": "birth_year"},
        {"fact_id": "a#s0#f0", "entity_id": "e1", "slot": "birth_year"},
        {"fact_id": "a#g#f1", "entity_id": "e1", "slot": None},
    ]
    knowledge = [
        {
            "fact_id": "a#g#f0",
            "question": "In what year was A born?",
            "expected": "1879",
            "answers": ["1879", "1880"],
            "r": 0.5,
        },
        {
            "fact_id": "a#s0#f0",
            "question": "In what year was A born?",
            "expected": "1879",
            "answers": ["1879", "1880"],
            "r": 0.5,
        },
        {"fact_id": "a#g#f1", "question": None, "expected": None, "answers": [], "r": None},
    ]
    got = PP.asked_facts(facts_rows, knowledge, {"e1": {"name": "A"}})
    assert len(got) == 1 and got[0]["entity"] == "A"
    assert [s["correct"] for s in got[0]["samples"]] == [True, False]


def test_settings_merge_shared_training_and_per_method_overrides():
    s3 = {
        "generation": {"chat_template": True},
        "preference": {
            "kto_conflicts": "drop",
            "training": {
                "beta": 0.1,
                "learning_rate": 1e-4,
                "epochs": 2,
                "batch_size": 4,
                "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"},
            },
            "per_method": {"ipo": {"beta": 0.5, "learning_rate": None, "epochs": None}},
        },
    }
    ipo = PP.preference_settings(s3, "ipo", seed=3)
    assert (ipo.method, ipo.beta, ipo.learning_rate, ipo.lora_r, ipo.chat_template, ipo.seed) == (
        "ipo",
        0.5,
        1e-4,
        4,
        True,
        3,
    )
    dpo = PP.preference_settings(s3, "dpo", seed=3)
    assert dpo.beta == 0.1 and dpo.kto_conflicts == "drop"


def test_a_run_folder_of_other_data_or_settings_is_started_afresh(tmp_path):
    from factgap.train import start_run_dir

    run = tmp_path / "run"
    checkpoints = start_run_dir(run, {"pairs": [1, 2], "beta": 0.1})
    (checkpoints / "checkpoint-2").mkdir()
    assert start_run_dir(run, {"beta": 0.1, "pairs": [1, 2]}) == checkpoints  # same run: kept, resumable
    assert (checkpoints / "checkpoint-2").exists()
    start_run_dir(run, {"pairs": [1, 2], "beta": 0.5})  # changed settings: a checkpoint of the old run is no start
    assert checkpoints.exists() and not (checkpoints / "checkpoint-2").exists()
    (checkpoints / "checkpoint-4").mkdir()
    (run / "identity.sha256").unlink()  # a folder of unknown origin is not trusted either
    start_run_dir(run, {"pairs": [1, 2], "beta": 0.5})
    assert not (checkpoints / "checkpoint-4").exists()
