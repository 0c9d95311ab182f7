"""Does the model know an atomic fact? Knowledge detection by sampling (study S3, APEFT).

Each atomic fact becomes a question with an expected answer: a template per slot ("In what
year was {name} born?" -> 1879), or for a fact without a slot a cloze (the fact with one value
blanked, asked as "Complete: ..."). The model answers S times with sampling; r = fraction of
answers that match (normalised text; years and dates by number). Categories as in the paper:
unknown (r = 0), potentially_known (0 < r < 1), known (r = 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from factgap.factscore.atomic import find_date, years_in
from factgap.factscore.lexicon import MONTHS, STOPWORDS, demonym_countries
from factgap.text import normalize_answer

QUESTION_TEMPLATES: dict[str, str] = {
    "birth_year": "In what year was {name} born?",
    "birth_date": "When was {name} born?",
    "death_year": "In what year did {name} die?",
    "death_date": "When did {name} die?",
    "birth_place": "Where was {name} born?",
    "death_place": "Where did {name} die?",
    "nationality": "What was the nationality of {name}?",
    "occupation": "What was the occupation of {name}?",
    "country": "In which country was {name} born?",
    "field": "In which field did {name} receive the Nobel Prize?",
    "prize_year": "In what year did {name} receive the Nobel Prize?",
    "award": "Which award did {name} receive?",
}
CLOZE_PREFIX = "Complete: "
BLANK = "____"

UNKNOWN, POTENTIALLY_KNOWN, KNOWN = "unknown", "potentially_known", "known"

# Demonstrations of the short-answer format (``Q: ...\nA: answer``), about no person, so that they leak no
# fact of the people asked about: a year, a place and a cloze, the three kinds of fact questions.
ANSWER_DEMOS = (
    {"question": "In what year did the Second World War end?", "answer": "1945"},
    {"question": "In which country is the Eiffel Tower?", "answer": "France"},
    {"question": "Complete: Water is made of hydrogen and ____.", "answer": "oxygen"},
)


def answer_prompt(question: str) -> str:
    """The few-shot prompt a fact question is asked in: answers come short and end at the newline,
    where a chat turn gets sentences that restate the question (and run into the token cap)."""
    from factgap.prompts import few_shot_prompt

    return few_shot_prompt(question, ANSWER_DEMOS)


class Probe(TypedDict):
    question: str
    answer: str  # the expected answer
    slot: str | None  # the slot whose matching rule applies (None: text match)
    kind: str  # "template" or "cloze"


def _date_words(value: str) -> str:
    m = re.fullmatch(r"(-?\d{1,4})(?:-(\d{2}))?(?:-(\d{2}))?", value)
    if not m:
        return value
    year = int(m.group(1))
    shown = f"{abs(year)} BC" if year < 0 else str(year)
    if not m.group(2):
        return shown
    month = MONTHS[int(m.group(2)) - 1].capitalize()
    return f"{month} {int(m.group(3))}, {shown}" if m.group(3) else f"{month} {shown}"


def _cloze(text: str, name: str) -> tuple[str, str] | None:
    """(fact with one value blanked, the value): the last year or number, else the last
    capitalised span that is not the subject's name, else the last content word."""
    name_tokens = set(normalize_answer(name).split())
    numbers = list(re.finditer(r"\b\d[\d,.]*\b(?:\s*(?:BC|AD))?", text))
    if numbers:
        m = numbers[-1]
        return text[: m.start()] + BLANK + text[m.end() :], m.group(0)
    spans = [
        m
        for m in re.finditer(r"\b[A-Z][\w'\u2019-]*(?:\s+(?:of|the|de|von|van)?\s*[A-Z][\w'\u2019-]*)*", text)
        if not set(normalize_answer(m.group(0)).split()) <= name_tokens
    ]
    spans = [m for m in spans if m.start() > 0 or len(spans) == 1]
    if spans:
        m = spans[-1]
        return text[: m.start()] + BLANK + text[m.end() :], m.group(0)
    words = [
        m
        for m in re.finditer(r"\b[a-z][a-z'-]{2,}\b", text)
        if m.group(0) not in STOPWORDS and m.group(0) not in name_tokens
    ]
    if words:
        m = words[-1]
        return text[: m.start()] + BLANK + text[m.end() :], m.group(0)
    return None


def fact_probe(fact: Mapping[str, Any], name: str) -> Probe | None:
    """The question that tests one atomic fact, and its expected answer (None: nothing to ask)."""
    slot, value = fact.get("slot"), fact.get("value")
    if slot in QUESTION_TEMPLATES and value not in (None, ""):
        answer = _date_words(str(value)) if slot in ("birth_date", "death_date") else str(value)
        if slot in ("birth_year", "death_year", "prize_year") and str(value).lstrip("-").isdigit() and int(value) < 0:
            answer = f"{-int(value)} BC"
        return Probe(question=QUESTION_TEMPLATES[slot].format(name=name), answer=answer, slot=slot, kind="template")
    blanked = _cloze(str(fact["text"]), name)
    if blanked is None:
        return None
    text, answer = blanked
    return Probe(question=CLOZE_PREFIX + text, answer=answer, slot=None, kind="cloze")


def _first_year(text: str) -> int | None:
    years = years_in(text)
    if years:
        return years[0]
    m = re.search(r"\b\d{1,4}\b", text)
    return int(m.group(0)) if m else None


def answer_matches(answer: str, expected: str, slot: str | None = None) -> bool:
    """Does a sampled answer give the expected value?

    Years: the first year (or number) in the answer equals the expected one. Dates: year, and
    month and day where expected. Nationalities: a shared demonym or the demonym's country.
    Otherwise: every normalised word of the expected answer occurs in the answer.
    """
    if not answer.strip():
        return False
    if slot in ("birth_year", "death_year", "prize_year") or (
        slot is None and re.fullmatch(r"\d{1,4}(\s*(BC|AD))?", expected.strip())
    ):
        want = years_in(expected) or [int(re.sub(r"\D", "", expected))]
        return _first_year(answer) == want[0]
    if slot in ("birth_date", "death_date"):
        want, got = find_date(expected), find_date(answer)
        if want is None or got is None:
            return False
        return got[0] == want[0] and (want[1] is None or got[1] == want[1]) and (want[2] is None or got[2] == want[2])
    answer_tokens = set(normalize_answer(answer).split())
    if slot == "nationality":
        parts = {normalize_answer(p) for p in re.split(r"[\s\-\u2013]+|\band\b", expected) if p.strip()}
        parts.discard("")
        if parts & answer_tokens:
            return True
        countries = {normalize_answer(c) for p in parts for c in demonym_countries(p)}
        text = f" {normalize_answer(answer)} "
        return any(c and f" {c} " in text for c in countries)
    wanted = normalize_answer(expected).split()
    if not wanted:
        return False
    if slot == "occupation":  # the head noun decides ("theoretical physicist" ~ "physicist")
        head = wanted[-1]
        return head in answer_tokens or head.rstrip("s") in {t.rstrip("s") for t in answer_tokens}
    return all(w in answer_tokens for w in wanted)


def knowledge_rate(answers: Sequence[str], expected: str, slot: str | None = None) -> float:
    """r: the fraction of sampled answers that match the expected answer."""
    if not answers:
        raise ValueError("knowledge detection needs at least one sampled answer")
    return sum(answer_matches(a, expected, slot) for a in answers) / len(answers)


def knowledge_category(r: float) -> str:
    """unknown (r = 0), potentially_known (0 < r < 1), known (r = 1)."""
    if not 0 <= r <= 1:
        raise ValueError(f"r must be in [0, 1], got {r}")
    return UNKNOWN if r == 0 else KNOWN if r == 1 else POTENTIALLY_KNOWN
