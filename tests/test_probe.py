import pytest

from factgap.probe import (
    ProbeSettings,
    assemble_probe_rows,
    build_probe_prompts,
    draw_exemplars,
    score_question,
    slick_category,
)


@pytest.mark.parametrize(
    "p_greedy,p_sample,expected",
    [
        (1.0, 0.0, "HighlyKnown"),
        (1.0, 1.0, "HighlyKnown"),
        (0.1, 0.0, "MaybeKnown"),
        (0.9, 1.0, "MaybeKnown"),
        (0.0, 1 / 160, "WeaklyKnown"),
        (0.0, 0.0, "Unknown"),
    ],
)
def test_slick_categories(p_greedy, p_sample, expected):
    assert slick_category(p_greedy, p_sample) == expected


def test_slick_rejects_bad_probabilities():
    with pytest.raises(ValueError):
        slick_category(1.5, 0.0)


def test_score_question_counts_greedy_and_samples():
    s = score_question(["Paris"], ["Paris", "Lyon"], [["Paris", "x"], ["y", "z"]])
    assert s == {"p_greedy": 0.5, "p_sample": 0.25, "category": "MaybeKnown"}
    s = score_question(["Paris"], ["Lyon", "Lyon"], [["x", "paris"], ["y", "z"]])
    assert s["category"] == "WeaklyKnown"


def _pool(n, relation="P17"):
    return [
        {"id": f"{relation}:{i}", "relation": relation, "question": f"q{i}?", "answers": [f"a{i}"]} for i in range(n)
    ]


def test_exemplars_exclude_question_and_are_seeded_per_question():
    pool = _pool(6)
    sets = draw_exemplars("P17:0", pool, n_prompts=5, n_shots=4, seed=1)
    assert len(sets) == 5 and all(len(s) == 4 for s in sets)
    assert all(e["id"] != "P17:0" for s in sets for e in s)
    # deterministic for one pool (the caller passes the dev split in its file order), other seeds differ
    assert sets == draw_exemplars("P17:0", pool, 5, 4, 1)
    assert sets != draw_exemplars("P17:0", pool, 5, 4, 2)
    assert draw_exemplars("P17:0", pool, 5, 4, 1) == sets
    assert draw_exemplars("P17:0", pool, 5, 4, 2) != sets


def test_exemplars_need_enough_dev_questions():
    with pytest.raises(ValueError, match="dev exemplars"):
        draw_exemplars("q", _pool(3), 1, 4, 0)


def test_prompts_use_same_relation_exemplars_only():
    pool = _pool(5, "P17") + _pool(5, "P36")
    questions = [{"id": "t1", "relation": "P36", "question": "Capital of X?", "answers": ["Y"]}]
    prompts, ids = build_probe_prompts(questions, pool, ProbeSettings(n_prompts=3, n_shots=4))
    assert len(prompts) == 3
    assert all(i.startswith("P36:") for s in ids[0] for i in s)
    assert prompts[0].endswith("Q: Capital of X?\nA:")
    assert prompts[0].count("Q: ") == 5


def test_assemble_rows_maps_generations_back_to_questions():
    questions = [
        {"id": "a", "relation": "r", "subject": "s", "question": "q", "answers": ["Yes"], "split": "test"},
        {"id": "b", "relation": "r", "subject": "s2", "question": "q2", "answers": ["No"], "split": "train"},
    ]
    greedy = [" Yes\n", " Yes", " maybe", " no\nQ:"]
    samples = [[" Yes"], [" x"], [" y"], [" No"]]
    rows = assemble_probe_rows(questions, [[["e"]], [["e"]]], greedy, samples, n_prompts=2)
    assert [r["category"] for r in rows] == ["HighlyKnown", "MaybeKnown"]
    assert rows[1]["greedy_answers"] == ["maybe", "no"]
