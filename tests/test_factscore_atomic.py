import pytest

from factgap.factscore.atomic import (
    LLM_DEMOS,
    build_llm_extraction_prompt,
    extract_facts_rules,
    facts_from_llm_outputs,
    find_date,
    name_variants,
    parse_llm_facts,
    split_sentences,
    years_in,
)

# A bio in the style of the embedded model's output (SmolLM2-135M-Instruct, greedy).
BIO = (
    "Albert Einstein (March 14, 1879 – April 18, 1955) was a German-born theoretical physicist who "
    "developed the theory of relativity. He received the Nobel Prize in Physics in 1921. "
    "The theory changed physics forever. Einstein died in Princeton, New Jersey, and was buried there. "
    "His father was an engineer. Einstein was a German physicist and"
)


def _slots(facts):
    return [(f["slot"], f["value"]) for f in facts if f["slot"]]


def test_rules_extractor_splits_into_single_claims():
    facts = extract_facts_rules(BIO, "Albert Einstein", "r1")
    assert _slots(facts) == [
        ("birth_date", "1879-03-14"),
        ("death_date", "1955-04-18"),
        ("nationality", "German"),
        ("occupation", "theoretical physicist"),
        ("field", "physics"),
        ("prize_year", "1921"),
        ("death_place", "Princeton, New Jersey"),
    ]
    texts = [f["text"] for f in facts]
    assert "Albert Einstein developed the theory of relativity." in texts
    assert "Albert Einstein was buried there." in texts
    assert "Albert Einstein's father was an engineer." in texts
    # not about the subject, and the truncated last sentence: dropped
    assert not any("changed physics" in t for t in texts)
    assert not any(t.endswith("physicist and.") for t in texts)
    assert all(f["response_id"] == "r1" for f in facts)


def test_fact_positions_point_into_the_response():
    facts = extract_facts_rules(BIO, "Albert Einstein", "r1")
    by_text = {f["text"]: f for f in facts}
    prize = by_text["Albert Einstein received the Nobel Prize in 1921."]
    assert prize["sentence_index"] == 1
    assert BIO[prize["position"] :].startswith("received the Nobel Prize")
    died = by_text["Albert Einstein died in Princeton, New Jersey."]
    assert died["sentence_index"] == 3 and BIO[died["position"] :].startswith("died in Princeton")
    assert [f["position"] for f in facts] == sorted(f["position"] for f in facts)


def test_duplicates_are_dropped():
    text = "Ada Lovelace was a mathematician. She was a mathematician. Ada was born in 1815. She was born in 1815."
    facts = extract_facts_rules(text, "Ada Lovelace")
    assert _slots(facts) == [("occupation", "mathematician"), ("birth_year", "1815")]


@pytest.mark.parametrize(
    "sentence, expected",
    [
        (
            "Charles Darwin was born on 12 February 1809 in Shrewsbury, England.",
            [("birth_date", "1809-02-12"), ("birth_place", "Shrewsbury, England")],
        ),
        (
            "Born in 1839 in Stuttgart, Germany, Emil was a brilliant scientist.",
            [("birth_year", "1839"), ("birth_place", "Stuttgart, Germany"), ("occupation", "scientist")],
        ),
        (
            "She is a renowned and prolific Polish poet, novelist and essayist.",
            [("nationality", "Polish"), ("occupation", "poet"), ("occupation", "novelist"), ("occupation", "essayist")],
        ),
        ("He died in 43 BC.", [("death_year", "-43")]),
        ("He was raised by his aunt in Rome.", []),  # a participle, not an occupation
        ("He won the Nobel Prize in Physiology or Medicine.", [("field", "physiology or medicine")]),
    ],
)
def test_slot_patterns(sentence, expected):
    name = "Emil Adolf von Behring" if "Emil" in sentence else "Charles Darwin"
    assert _slots(extract_facts_rules(sentence, name)) == expected


def test_meta_and_unrelated_sentences_give_no_fact():
    text = "Sure, here is a bio of Ada Lovelace. The Analytical Engine was a machine. I hope this helps!"
    assert extract_facts_rules(text, "Ada Lovelace") == []


def test_dates_and_years():
    assert find_date("born on January 4, 1879 in Bern")[:3] == (1879, 1, 4)
    assert find_date("born 14 March 1879")[:3] == (1879, 3, 14)
    assert find_date("in March 1879")[:3] == (1879, 3, None)
    assert find_date("in 384 BC")[:3] == (-384, None, None)
    assert find_date("sold 1,879 copies") is None
    assert years_in("from 1940 to AD 14 and 43 BC, 5 albums") == [1940, 14, -43]


def test_sentences_keep_offsets():
    text = "**Early life**\nMarie Curie was born in Warsaw. She moved to Paris.\n- She died in 1934."
    pairs = split_sentences(text)
    assert [s for _, s in pairs] == [
        "Early life",
        "Marie Curie was born in Warsaw.",
        "She moved to Paris.",
        "She died in 1934.",
    ]
    for offset, sentence in pairs:
        assert text[offset : offset + len(sentence)] == sentence


def test_name_variants():
    assert name_variants("Hans Krebs (biochemist)") == ["Hans Krebs", "Krebs", "Hans"]
    assert name_variants("Jacobus Henricus van 't Hoff")[:2] == ["Jacobus Henricus van 't Hoff", "Jacobus Hoff"]


def test_llm_prompt_and_parser():
    prompt = build_llm_extraction_prompt("He was born in 1900 in Oslo.")
    assert prompt.count("Please breakdown the following sentence into independent facts:") == len(LLM_DEMOS) + 1
    assert prompt.endswith(
        "Please breakdown the following sentence into independent facts: He was born in 1900 in Oslo.\n"
    )
    assert "- Marie Curie was born in 1867.\n" in prompt
    output = "- He was born in 1900\n- He was born in Oslo.\n- He was born in 1900.\n\nPlease breakdown ... \n- x"
    assert parse_llm_facts(output) == ["He was born in 1900.", "He was born in Oslo."]
    assert parse_llm_facts("I cannot do that.") == []
    facts = facts_from_llm_outputs("r", [(0, "He was born in 1900 in Oslo.")], [output], "Ola Nordmann")
    assert [f["text"] for f in facts] == ["Ola Nordmann was born in 1900.", "Ola Nordmann was born in Oslo."]
    with pytest.raises(ValueError):
        facts_from_llm_outputs("r", [(0, "a"), (5, "b")], [output], "X")
