"""Seeded, order-independent subsampling per group (dependency-free: data loaders and splits share it)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence


def cap_groups(
    rows: Sequence[Mapping],
    group_of: Callable[[Mapping], Hashable],
    cap_of: Callable[[Hashable], int | None],
    rng_key: Callable[[Hashable], str],
) -> list[Mapping]:
    """At most ``cap_of(group)`` rows of each group, drawn by ``random.Random(rng_key(group))``.

    Rows are sorted by ``id`` before drawing and in the result, so the outcome does not depend on
    the input order; the generator is keyed per group, so adding a group changes no other group.
    """
    groups: dict[Hashable, list[Mapping]] = defaultdict(list)
    for row in rows:
        groups[group_of(row)].append(row)
    kept: list[Mapping] = []
    for key, group in sorted(groups.items()):
        group = sorted(group, key=lambda r: r["id"])
        cap = cap_of(key)
        if cap is not None and len(group) > cap:
            group = random.Random(rng_key(key)).sample(group, cap)
        kept.extend(group)
    return sorted(kept, key=lambda r: r["id"])


def subsample_per_relation(records: Sequence[Mapping], caps: Mapping[str, int | None], seed: int) -> list[Mapping]:
    """At most caps[split] records per (relation, split)."""
    return cap_groups(
        records,
        lambda r: (r["relation"], r["split"]),
        lambda key: caps.get(key[1]),
        lambda key: f"{seed}:{key[0]}:{key[1]}",
    )


def cap_per_relation(rows: Sequence[Mapping], cap: int | None, seed: int, label: str) -> list[Mapping]:
    """At most ``cap`` rows per relation (``label`` keys the draw, so dev and test draws differ)."""
    return cap_groups(rows, lambda r: r["relation"], lambda _: cap, lambda relation: f"{seed}:{label}:{relation}")
