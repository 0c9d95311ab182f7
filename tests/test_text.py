from factgap.text import cot_final_answer, exact_match, first_line_answer, normalize_answer


def test_normalize_drops_case_punctuation_articles_and_accents():
    assert normalize_answer("  The  São Paulo!! ") == "sao paulo"
    assert normalize_answer("U.S.A.") == normalize_answer("USA") == "usa"
    assert normalize_answer("Timor-Leste") == normalize_answer("timor leste")
    assert normalize_answer("An Apple") == "apple"


def test_exact_match_against_all_aliases():
    assert exact_match("the United States", ["USA", "United States"])
    assert exact_match("usa", ["USA", "United States"])
    assert not exact_match("United States of America", ["USA", "United States"])
    assert not exact_match("", ["", "x"])  # empty prediction never matches


def test_article_inside_word_is_kept():
    assert normalize_answer("Athens") == "athens"
    assert not exact_match("Athens", ["Thens"])


def test_first_line_and_cot_answer_extraction():
    assert first_line_answer("\n  Paris \nQ: next") == "Paris"
    assert first_line_answer("") == ""
    assert cot_final_answer(" Lyon is in France.\nA: France\nQ: x") == "France"
    assert cot_final_answer(" Lyon is a city in France.") == ""
