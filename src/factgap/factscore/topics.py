"""Topics for the out-of-domain FActScore of study S3: the Vital Articles that are not people, or
FAVA's prompts from a local file (APEFT's out-of-domain open-ended test; layout UNVERIFIED).

Tuning on bios may change how the model answers about anything else. Open questions about
non-person articles ("Tell me about Volcano.") measure that with the same pipeline as the bios:
the article's lead paragraph is the knowledge source, its Wikipedia topic the tier, and the
records have the people file's layout so that every later stage reads them unchanged. Answers
are read with ``extract_facts_rules(..., person=False)`` (``is_topic_id`` tells them apart):
a topic has no person slots, so its claims are checked by passage overlap only. A FAVA row carries
its own request (``prompt``); a Vital Article is asked with the configured template.
"""

from __future__ import annotations

import json
import logging
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from factgap.factscore.entities import (
    WIKI_FILE,
    WIKI_PACKAGE,
    Entity,
    _head_noun,
    _split_head,
    entity_name,
    looks_like_person,
    package_data_path,
)
from factgap.io import write_parquet

log = logging.getLogger(__name__)

TOPIC_PREFIX = "topic:"
PEOPLE_TOPIC = "People"  # the level-4 people: the in-domain bios
UNCATEGORIZED = "Uncategorized"  # levels 1-3 carry no topic in the data, people among them
SOURCE_KEY = "s3.evaluation.ood_topics"
# Endings of nouns for a person ("physicist", "mathematician", "inventor", "nobleman").
_PERSON_NOUN = re.compile(r"(?:ist|ian|er|or|man|woman|ess)$")


def is_topic_id(entity_id: str) -> bool:
    """Whether a record of a people-layout file is a topic (its answers have no person slots)."""
    return entity_id.startswith(TOPIC_PREFIX)


def topic_tier(topic: str) -> str:
    """A short, path-safe tier name of a Wikipedia topic: its words before any " and ".

    "Biology and health sciences" -> "biology", "Everyday life" -> "everyday_life",
    "Uncategorized" -> "uncategorized". Tiers name result rows and may end up in paths.
    """
    head = re.split(r"\s+and\s+", topic.strip(), maxsplit=1)[0]
    ascii_head = unicodedata.normalize("NFKD", head).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_head.lower()).strip("_") or "uncategorized"


def _is_untopiced_person(summary: Mapping[str, Any]) -> bool:
    """A level 1-3 article about a person: by the bios' test, or by its description alone.

    The bios' test (``looks_like_person(top_level=True)``) also asks the lead for a personal
    pronoun, which short leads lack (Plato, Kurt Gödel, Sigmund Freud): those are people too
    when the description gives years and names a person ("Mathematician and philosopher
    (1906–1978)"), unlike "Global conflict (1939–1945)". A topic set must hold no person.
    """
    if looks_like_person(summary, top_level=True):
        return True
    head, years = _split_head(str(summary.get("description") or ""))
    return (
        looks_like_person(summary)
        and years is not None
        and bool(re.search(r"\d", years.group(1)))
        and bool(_PERSON_NOUN.search(_head_noun(head)))
    )


def vital_topics(summaries: Mapping[str, Mapping[str, Any]]) -> list[Entity]:
    """The Vital Articles that are not people, with a lead paragraph, one tier per topic.

    Topic "People" is left out, and so are the people among the untopiced level 1-3 articles
    (``_is_untopiced_person``: the bios' test, plus people whose lead has no pronoun). A title whose
    cleaned name is shared by another article ("Casablanca" the city and the film) keeps its
    disambiguation ("Casablanca (film)"): the question must say which article its answer is
    checked against.
    """
    names = Counter(entity_name(title) for title in summaries)
    topics: list[Entity] = []
    for title in sorted(summaries):
        summary = summaries[title]
        topic = str(summary.get("topic") or UNCATEGORIZED)
        extract = " ".join(str(summary.get("extract") or "").split())
        if topic == PEOPLE_TOPIC or not extract:
            continue
        if topic == UNCATEGORIZED and _is_untopiced_person(summary):
            continue
        name = entity_name(title)
        if names[name] > 1:
            name = " ".join(title.split())
        if not name:
            continue
        topics.append(
            Entity(
                entity_id=f"{TOPIC_PREFIX}{title}",
                name=name,
                tier=topic_tier(topic),
                knowledge=[extract],
                description=str(summary.get("description") or ""),
                facts={},
            )
        )
    return topics


def load_embedded_topics(wiki_path: str | Path | None = None) -> list[Entity]:
    """``vital_topics`` of the Vital Articles file of the installed PyPI package (or ``wiki_path``)."""
    wiki_path = Path(wiki_path) if wiki_path else package_data_path(WIKI_PACKAGE, WIKI_FILE)
    with open(wiki_path, encoding="utf-8") as handle:
        return vital_topics(json.load(handle))


def select_topics(
    topics: Sequence[Entity], max_topics: int | None, seed: int, tiers: Sequence[str] | None = None
) -> list[Entity]:
    """At most ``max_topics`` topics of ``tiers`` (None or empty: all), spread evenly over tiers.

    Each tier is shuffled by its own seeded generator and read from the front, and the tiers take
    one topic each in turn (a seeded order decides who gets the remainder; a tier that runs out
    leaves its share to the others). So the draw does not depend on the input order, and raising
    ``max_topics`` only adds topics. The result is sorted by entity_id.
    """
    if max_topics is not None and max_topics < 1:
        raise ValueError(f"max_topics must be >= 1 or None, got {max_topics}")
    wanted = set(tiers or ())
    pool = sorted((t for t in topics if not wanted or t["tier"] in wanted), key=lambda t: t["entity_id"])
    ids = [t["entity_id"] for t in pool]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate entity_id among the topics")
    if max_topics is None or max_topics >= len(pool):
        return pool
    by_tier: dict[str, list[Entity]] = {}
    for topic in pool:
        by_tier.setdefault(topic["tier"], []).append(topic)
    for tier, members in by_tier.items():
        random.Random(f"{seed}:topics:{tier}").shuffle(members)
    order = sorted(by_tier)
    random.Random(f"{seed}:topics:tiers").shuffle(order)
    quota = dict.fromkeys(order, 0)
    left = max_topics
    while left:
        for tier in order:
            if left and quota[tier] < len(by_tier[tier]):
                quota[tier] += 1
                left -= 1
    return sorted((t for tier in order for t in by_tier[tier][: quota[tier]]), key=lambda t: t["entity_id"])


def fava_topics(path, fields=None) -> list[Entity]:
    """FAVA's prompts as topics (``factgap.data.apeft.load_fava``): the row's title is the subject, its
    reference text the knowledge, its own prompt the request (``prompt``), all in tier "fava"."""
    from factgap.data.apeft import FAVA_TIER, load_fava

    return [
        {
            **Entity(
                entity_id=f"{TOPIC_PREFIX}fava:{row['id']}",
                name=row["title"],
                tier=FAVA_TIER,
                knowledge=list(row["knowledge"]),
                description="",
                facts={},
            ),
            "prompt": row["prompt"],
        }
        for row in load_fava(path, fields)
    ]


def load_topics(spec: Mapping[str, Any]) -> list[Entity]:
    """The topics of a source: the embedded Vital Articles, or a FAVA file (``path``, ``fields``)."""
    source = spec.get("source", "embedded")
    if source == "embedded":
        return load_embedded_topics()
    if source == "fava":
        if not spec.get("path"):
            raise ValueError(f"config key '{SOURCE_KEY}.path': required when the source is fava")
        return fava_topics(spec["path"], spec.get("fields"))
    raise ValueError(
        f"config key '{SOURCE_KEY}.source': unknown source {source!r} (only 'embedded' and 'fava' make a topic set)"
    )


def prepare_topics_file(spec: Mapping[str, Any], seed: int, out_path) -> dict:
    """The topic set as a people-layout parquet (all in split "test", no slots); counts by tier.

    ``spec``: ``source`` ("embedded" or "fava" with ``path`` and ``fields``), ``max_topics`` (int or
    None), ``tiers`` (list or None). An unknown source or tier, or a selection with no topic, fails
    naming the config key; a bad FAVA file fails naming the file, row and field.
    """
    from factgap.factscore.pipeline import PEOPLE_SCHEMA

    source = spec.get("source", "embedded")
    topics = load_topics(spec)
    tiers = list(spec.get("tiers") or [])
    known = sorted({t["tier"] for t in topics})
    if unknown := sorted(set(tiers) - set(known)):
        raise ValueError(f"config key '{SOURCE_KEY}.tiers': unknown tiers {unknown}; valid: {known}")
    chosen = select_topics(topics, spec.get("max_topics"), seed, tiers)
    if not chosen:
        raise ValueError(
            f"config key '{SOURCE_KEY}': no topic left (tiers {tiers or 'all'}, {len(topics)} topics in the data)"
        )
    rows = [
        {
            "entity_id": t["entity_id"],
            "name": t["name"],
            "tier": t["tier"],
            "split": "test",
            "description": t.get("description") or "",
            "knowledge": list(t["knowledge"]),
            "facts": json.dumps(t.get("facts") or {}, sort_keys=True, ensure_ascii=False),
            "prompt": t.get("prompt"),
        }
        for t in chosen
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=PEOPLE_SCHEMA), out_path)
    counts = {"test": dict(sorted(Counter(r["tier"] for r in rows).items()))}
    log.info("topics (%s): %s", source, counts)
    return counts
