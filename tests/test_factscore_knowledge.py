import pytest

from factgap.factscore.atomic import extract_facts_rules
from factgap.factscore.knowledge import (
    BLANK,
    CLOZE_PREFIX,
    KNOWN,
    POTENTIALLY_KNOWN,
    UNKNOWN,
    answer_matches,
    fact_probe,
    knowledge_category,
    knowledge_rate,
)


def _probe(text, name="Albert Einstein"):
    facts = extract_facts_rules(text, name)
    assert len(facts) == 1, facts
    return fact_probe(facts[0], name)


def test_template_questions_per_slot():
    p = _probe("Albert Einstein was born in 1879.")
    assert p == {
        "question": "In what year was Albert Einstein born?",
        "answer": "1879",
        "slot": "birth_year",
        "kind": "template",
    }
    p = _probe("Albert Einstein was born on March 14, 1879.")
    assert p["question"] == "When was Albert Einstein born?" and p["answer"] == "March 14, 1879"
    assert _probe("Albert Einstein was born in Ulm.")["question"] == "Where was Albert Einstein born?"
    assert _probe("Albert Einstein was German.")["answer"] == "German"
    assert (
        _probe("Albert Einstein received the Nobel Prize in 1921.")["question"]
        == "In what year did Albert Einstein receive the Nobel Prize?"
    )
    assert _probe("Cicero died in 43 BC.", "Cicero")["answer"] == "43 BC"


def test_cloze_for_facts_without_a_slot():
    p = _probe("Albert Einstein developed the theory of relativity.")
    assert p["kind"] == "cloze" and p["slot"] is None
    assert p["question"] == f"{CLOZE_PREFIX}Albert Einstein developed the theory of {BLANK}."
    assert p["answer"] == "relativity"
    p = _probe("Albert Einstein moved to the United States in 1933.")
    assert p["answer"] == "1933" and BLANK in p["question"]
    p = _probe("Albert Einstein worked at the Swiss Patent Office in Bern.")
    assert p["answer"] == "Bern"
    assert fact_probe({"text": "Albert Einstein.", "slot": None, "value": None}, "Albert Einstein") is None


@pytest.mark.parametrize(
    "answer, expected, slot, ok",
    [
        ("He was born in 1879.", "1879", "birth_year", True),
        ("1879", "1879", "birth_year", True),
        ("He was born in 1878, not 1879.", "1879", "birth_year", False),  # the first year decides
        ("March 14, 1879", "March 14, 1879", "birth_date", True),
        ("14 March 1879 in Ulm", "March 14, 1879", "birth_date", True),
        ("March 15, 1879", "March 14, 1879", "birth_date", False),
        ("He was born in Ulm, Germany.", "Ulm", "birth_place", True),
        ("He was born in Munich.", "Ulm", "birth_place", False),
        ("He was German.", "German", "nationality", True),
        ("He was from Germany.", "German", "nationality", True),
        ("A Swiss citizen.", "German", "nationality", False),
        ("He was a physicist.", "theoretical physicist", "occupation", True),
        ("He was a chemist.", "theoretical physicist", "occupation", False),
        ("the theory of relativity", "relativity", None, True),
        ("quantum mechanics", "relativity", None, False),
        ("in 1933", "1933", None, True),
        ("", "1933", None, False),
    ],
)
def test_answer_matching(answer, expected, slot, ok):
    assert answer_matches(answer, expected, slot) is ok


def test_rate_and_categories():
    answers = ["1879", "He was born in 1879.", "1880", "I don't know"]
    r = knowledge_rate(answers, "1879", "birth_year")
    assert r == pytest.approx(0.5) and knowledge_category(r) == POTENTIALLY_KNOWN
    assert knowledge_category(knowledge_rate(["1879"] * 3, "1879", "birth_year")) == KNOWN
    assert knowledge_category(knowledge_rate(["no"] * 3, "1879", "birth_year")) == UNKNOWN
    with pytest.raises(ValueError):
        knowledge_rate([], "1879")
    with pytest.raises(ValueError):
        knowledge_category(1.5)


def test_answer_prompt_is_few_shot_about_no_person():
    from factgap.factscore.knowledge import ANSWER_DEMOS, answer_prompt

    prompt = answer_prompt("In what year was Ada Lovelace born?")
    assert prompt.endswith("Q: In what year was Ada Lovelace born?\nA:")
    assert prompt.count("\nA: ") == len(ANSWER_DEMOS)  # each demo answered, the question left open
