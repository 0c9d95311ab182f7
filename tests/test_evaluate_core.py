import pytest

from factgap.evaluate import build_prompts, choose_exemplars, clean_rationale, score_predictions
from factgap.train import select_epochs, sft_records

KNOWN = [
    {"id": f"{r}:{i}", "relation": r, "question": f"{r} q{i}?", "target": f"a{i}"}
    for r, n in (("P17", 6), ("P36", 2))
    for i in range(n)
]
TEST = [{"id": "t1", "relation": "P36", "question": "Capital of X?", "answers": ["Y", "Why"], "category": "Unknown"}]


def test_exemplars_per_relation_borrow_when_short():
    ex = choose_exemplars(KNOWN, ["P17", "P36"], 4, seed=0)
    p36 = [e for e in ex if e["relation"] == "P36"]
    assert len(p36) == 4 and sum(e["id"].startswith("P36") for e in p36) == 2
    assert choose_exemplars(KNOWN, ["P17", "P36"], 4, seed=0) == ex
    with pytest.raises(ValueError):
        choose_exemplars(KNOWN[:2], ["P17"], 4, 0)


def test_prompt_modes():
    ex = choose_exemplars(KNOWN, ["P36"], 4, seed=0)
    for e in ex:
        e["rationale"] = "Because."
    zero, four, cot = (build_prompts(TEST, m, ex)[0] for m in ("zero_shot", "four_shot", "four_shot_cot"))
    assert zero == "Q: Capital of X?\nA:"
    assert four.endswith(zero) and four.count("\nA: ") == 4
    assert cot.endswith("Q: Capital of X?\nReasoning:") and cot.count("Reasoning: Because.") == 4
    with pytest.raises(ValueError):
        build_prompts(TEST, "eight_shot", ex)


def test_scoring_extracts_by_mode():
    rows = score_predictions(TEST, [" Y\nQ: more"], "zero_shot", "base")
    assert rows[0]["correct"] and rows[0]["prediction"] == "Y"
    rows = score_predictions(TEST, [" X is a place.\nA: why"], "four_shot_cot", "base")
    assert rows[0]["correct"]
    rows = score_predictions(TEST, [" Y is the capital"], "four_shot_cot", "base")
    assert not rows[0]["correct"]  # a rationale without an answer line is not an answer
    rows = score_predictions(TEST, [" Why\n\n"], "four_shot_cot", "known-convergence")
    assert rows[0]["correct"] and rows[0]["prediction"] == "Why"  # answered at once, no rationale


def test_rationale_fallback():
    assert clean_rationale("\n", "Paris") == "The answer is Paris."
    assert clean_rationale(" It is in France.\nmore", "Paris") == "It is in France."


def test_epoch_selection_prefers_earliest_best():
    assert select_epochs({1: 0.2, 2: 0.5, 3: 0.5, 4: 0.1}) == (2, 4)
    with pytest.raises(ValueError):
        select_epochs({})


def test_sft_records_format():
    assert sft_records([{"question": "Q?", "target": "A"}]) == [{"prompt": "Q: Q?\nA:", "completion": " A"}]
