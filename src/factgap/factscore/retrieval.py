"""Passages of an entity's knowledge and BM25 retrieval (FActScore step 2).

FActScore retrieves k=5 passages of ~256 tokens from the entity's own Wikipedia page with the
query ``topic + " " + atom``. Here passages are cut by words (sentence-aligned where possible)
and ranked with rank_bm25's Okapi BM25 over normalised tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from factgap.factscore.lexicon import STOPWORDS
from factgap.text import normalize_answer


def tokenize(text: str, drop_stopwords: bool = True) -> list[str]:
    """Normalised word tokens (accents, case and punctuation folded)."""
    tokens = normalize_answer(text).split()
    return [t for t in tokens if t not in STOPWORDS] if drop_stopwords else tokens


def split_passages(document: str, max_words: int = 256) -> list[str]:
    """Cut a document into passages of at most ``max_words`` words, at sentence ends.

    A single sentence longer than ``max_words`` is cut by words.
    """
    if max_words < 1:
        raise ValueError("max_words must be >= 1")
    from factgap.factscore.atomic import split_sentences

    passages: list[str] = []
    current: list[str] = []
    for _, sentence in split_sentences(document):
        words = sentence.split()
        while len(words) > max_words:  # an overlong sentence
            if current:
                passages.append(" ".join(current))
                current = []
            passages.append(" ".join(words[:max_words]))
            words = words[max_words:]
        if len(current) + len(words) > max_words and current:
            passages.append(" ".join(current))
            current = []
        current.extend(words)
    if current:
        passages.append(" ".join(current))
    return passages


def entity_passages(knowledge: Sequence[str], max_words: int = 256) -> list[str]:
    """All passages of an entity's knowledge texts (documents or ready-made passages)."""
    out: list[str] = []
    for text in knowledge:
        out.extend(split_passages(text, max_words) if len(text.split()) > max_words else [text.strip()])
    return [p for p in out if p]


def bm25_top_k(passages: Sequence[str], query: str, k: int = 5) -> list[tuple[int, float]]:
    """(passage index, score) of the ``k`` best passages for ``query``, best first.

    Ties keep document order. With k >= len(passages) every passage comes back, ranked.
    """
    if not passages or k < 1:
        return []
    from rank_bm25 import BM25Okapi

    corpus = [tokenize(p) or ["_"] for p in passages]
    scores = BM25Okapi(corpus).get_scores(tokenize(query))
    order = sorted(range(len(passages)), key=lambda i: (-float(scores[i]), i))
    return [(i, float(scores[i])) for i in order[:k]]


def retrieve(knowledge: Sequence[str], entity_name: str, fact: str, k: int = 5, max_words: int = 256) -> list[str]:
    """FActScore's retrieval: the top-k passages of the entity's knowledge for ``name + fact``."""
    passages = entity_passages(knowledge, max_words)
    return [passages[i] for i, _ in bm25_top_k(passages, f"{entity_name} {fact}", k)]
