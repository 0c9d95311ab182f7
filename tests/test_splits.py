from collections import Counter

import pytest

from factgap.naming import parse_qa_training_set as parse_training_set
from factgap.sampling import cap_per_relation, subsample_per_relation
from factgap.splits import check_category_groups, per_relation_sizes, select_training_set

KNOWN, UNKNOWN = ["HighlyKnown", "MaybeKnown"], ["Unknown"]


def _rows():
    rows = []
    plan = {
        "P17": {"HighlyKnown": 5, "MaybeKnown": 3, "WeaklyKnown": 2, "Unknown": 20},
        "P36": {"HighlyKnown": 10, "MaybeKnown": 0, "WeaklyKnown": 0, "Unknown": 4},
    }
    for relation, cats in plan.items():
        for cat, n in cats.items():
            for i in range(n):
                rows.append(
                    {
                        "id": f"{relation}:{cat}:{i}",
                        "relation": relation,
                        "subject": f"s{relation}{cat}{i}",
                        "question": "q",
                        "answers": [f"a{i}", "alias"],
                        "category": cat,
                        "split": "train",
                    }
                )
    return rows


def test_sizes_are_min_of_known_and_unknown_per_relation():
    assert per_relation_sizes(_rows(), KNOWN, UNKNOWN, None) == {"P17": 8, "P36": 4}
    assert per_relation_sizes(_rows(), KNOWN, UNKNOWN, 5) == {"P17": 5, "P36": 4}


def test_known_and_unknown_sets_are_balanced_per_relation():
    rows = _rows()
    sizes = per_relation_sizes(rows, KNOWN, UNKNOWN, None)
    known = select_training_set(rows, parse_training_set("known"), sizes, KNOWN, UNKNOWN, seed=0)
    unknown = select_training_set(rows, parse_training_set("unknown"), sizes, KNOWN, UNKNOWN, seed=0)
    assert Counter(r["relation"] for r in known) == Counter(r["relation"] for r in unknown) == Counter(sizes)
    assert {r["knowledge"] for r in known} == {"known"}
    assert {r["category"] for r in unknown} == {"Unknown"}
    assert all(r["target"] == r["answers"][0] for r in known)


def test_mixture_and_single_category_sets():
    rows = _rows()
    sizes = per_relation_sizes(rows, KNOWN, UNKNOWN, None)
    mix = select_training_set(rows, parse_training_set("mix-unknown-50"), sizes, KNOWN, UNKNOWN, seed=0)
    by = Counter((r["relation"], r["knowledge"]) for r in mix)
    assert by == {("P17", "known"): 4, ("P17", "unknown"): 4, ("P36", "known"): 2, ("P36", "unknown"): 2}
    only = select_training_set(rows, parse_training_set("only-WeaklyKnown"), sizes, KNOWN, UNKNOWN, seed=0)
    assert {r["category"] for r in only} == {"WeaklyKnown"} and len(only) == 2


def test_selection_is_seeded_and_order_independent():
    rows = _rows()
    sizes = per_relation_sizes(rows, KNOWN, UNKNOWN, 3)
    a = select_training_set(rows, parse_training_set("unknown"), sizes, KNOWN, UNKNOWN, seed=3)
    b = select_training_set(list(reversed(rows)), parse_training_set("unknown"), sizes, KNOWN, UNKNOWN, seed=3)
    c = select_training_set(rows, parse_training_set("unknown"), sizes, KNOWN, UNKNOWN, seed=4)
    assert a == b and a != c


def test_bad_names_and_category_groups_fail():
    with pytest.raises(ValueError):
        parse_training_set("mix-unknown-150")
    with pytest.raises(ValueError):
        parse_training_set("everything")
    with pytest.raises(ValueError, match="both Known and Unknown"):
        check_category_groups(["Unknown"], ["Unknown"])


def test_subsample_and_cap_per_relation():
    rows = [
        {"id": f"{r}:{s}:{i}", "relation": r, "split": s}
        for r in ("a", "b")
        for s in ("train", "test")
        for i in range(10)
    ]
    kept = subsample_per_relation(rows, {"train": 3, "test": None}, seed=0)
    assert Counter((r["relation"], r["split"]) for r in kept) == {
        ("a", "train"): 3,
        ("b", "train"): 3,
        ("a", "test"): 10,
        ("b", "test"): 10,
    }
    assert subsample_per_relation(rows, {"train": 3}, 0) == subsample_per_relation(
        list(reversed(rows)), {"train": 3}, 0
    )
    assert len(cap_per_relation(rows, 4, 0, "dev")) == 8


def test_idk_variant_relabels_only_unknown_examples():
    rows = _rows()
    sizes = per_relation_sizes(rows, KNOWN, UNKNOWN, None)
    spec = parse_training_set("idk-mix-unknown-50")
    assert spec.relabel_unknown and spec.unknown_fraction == 0.5
    idk = select_training_set(rows, spec, sizes, KNOWN, UNKNOWN, seed=0)
    plain = select_training_set(rows, parse_training_set("mix-unknown-50"), sizes, KNOWN, UNKNOWN, seed=0)
    assert {r["target"] for r in idk if r["knowledge"] == "unknown"} == {"I don't know"}
    assert all(r["target"] == r["answers"][0] for r in idk if r["knowledge"] == "known")
    assert [r["id"] for r in idk] == [r["id"] for r in plain]
