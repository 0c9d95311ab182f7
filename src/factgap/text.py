"""Answer normalisation and exact match (pure)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
# Separators become spaces (Timor-Leste == Timor Leste); other punctuation is deleted (U.S.A. == USA).
_SEPARATORS = {"-", "/", "_", "\u2013", "\u2014"}
_PUNCT = (set(string.punctuation) | {"\u2019", "\u2018", "\u201c", "\u201d"}) - _SEPARATORS


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_answer(text: str, drop_articles: bool = True) -> str:
    """SQuAD-style normalisation, plus accent folding (São Paulo == Sao Paulo).

    Lower-case, drop accents, punctuation and (unless ``drop_articles`` is false) the articles
    a/an/the, collapse whitespace.
    """
    text = strip_accents(text.lower())
    text = "".join(" " if ch in _SEPARATORS else "" if ch in _PUNCT else ch for ch in text)
    if drop_articles:
        text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold_answers: Iterable[str]) -> bool:
    """True when the normalised prediction equals any normalised gold alias.

    A gold answer that is nothing but an article ("A": an option letter, a blood group, a band) is
    compared with articles kept: SQuAD's rule would reduce it, and any empty prediction, to "".
    """
    pred = normalize_answer(prediction)
    literal = normalize_answer(prediction, drop_articles=False)
    for gold in gold_answers:
        normal = normalize_answer(gold)
        if normal:
            if pred and pred == normal:
                return True
        elif literal and literal == normalize_answer(gold, drop_articles=False):
            return True
    return False


def first_line_answer(generation: str) -> str:
    """The answer part of a raw continuation: its first non-empty line, trimmed."""
    for line in generation.split("\n"):
        line = line.strip()
        if line:
            return line
    return ""


def cot_final_answer(generation: str, answer_marker: str = "A:") -> str:
    """The answer after the last ``answer_marker`` of a chain-of-thought continuation.

    Without the marker the model never committed to an answer: return the empty string,
    which never matches (a rationale must not count as an answer by accident).
    """
    idx = generation.rfind(answer_marker)
    if idx < 0:
        return ""
    return first_line_answer(generation[idx + len(answer_marker) :])
