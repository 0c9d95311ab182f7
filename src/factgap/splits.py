"""Training, dev and test sets from the probe table (pure core + thin shell).

Training sets are named; a name says what the set holds:
  known / unknown        all examples Known (or Unknown) per the configured SliCK categories (S2)
  mix-unknown-<X>        X% Unknown, the rest Known, per relation (S1)
  only-<Category>        a single SliCK category (S1)
  idk-mix-unknown-<X>    like mix-unknown-<X>, Unknown examples relabelled "I don't know" (S1)
Every set draws the same number of examples per relation (min(#known, #unknown, cap)), so the
relation mix is identical across sets and differences come from knowledge alone.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

import pyarrow as pa

from factgap.data.schema import POPULARITY_FIELD, QUESTION_FIELDS
from factgap.naming import CATEGORIES, QATrainingSet, parse_qa_training_set
from factgap.prompts import IDK_ANSWER
from factgap.sampling import cap_per_relation

TRAIN_SCHEMA = pa.schema(
    [
        *QUESTION_FIELDS,
        pa.field("target", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("knowledge", pa.string(), nullable=False),
    ]
)


def knowledge_group(category: str, known: Sequence[str], unknown: Sequence[str]) -> str:
    if category in known:
        return "known"
    if category in unknown:
        return "unknown"
    return "other"


def check_category_groups(known: Sequence[str], unknown: Sequence[str]) -> None:
    bad = [c for c in (*known, *unknown) if c not in CATEGORIES]
    if bad:
        raise ValueError(f"unknown SliCK categories {bad}; valid: {CATEGORIES}")
    overlap = set(known) & set(unknown)
    if overlap:
        raise ValueError(f"categories {sorted(overlap)} are both Known and Unknown")


def per_relation_sizes(
    train_rows: Sequence[Mapping], known: Sequence[str], unknown: Sequence[str], cap: int | None
) -> dict[str, int]:
    """Examples per relation shared by every training set: min(#known, #unknown, cap)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"known": 0, "unknown": 0, "other": 0})
    for row in train_rows:
        counts[row["relation"]][knowledge_group(row["category"], known, unknown)] += 1
    sizes = {}
    for relation, c in sorted(counts.items()):
        n = min(c["known"], c["unknown"])
        sizes[relation] = n if cap is None else min(n, cap)
    return sizes


def _draw(rows: Sequence[Mapping], n: int, rng: random.Random) -> list[Mapping]:
    rows = sorted(rows, key=lambda r: r["id"])
    if n > len(rows):
        raise ValueError(f"need {n} examples, only {len(rows)} available")
    return rng.sample(rows, n)


def select_training_set(
    train_rows: Sequence[Mapping],
    spec: QATrainingSet,
    sizes: Mapping[str, int],
    known: Sequence[str],
    unknown: Sequence[str],
    seed: int,
) -> list[dict]:
    """Rows of one training set, balanced per relation (pure, seeded)."""
    by_relation: dict[str, list[Mapping]] = defaultdict(list)
    for row in train_rows:
        by_relation[row["relation"]].append(row)
    chosen: list[Mapping] = []
    for relation, n in sorted(sizes.items()):
        # the "I don't know" variant draws the very examples of its plain mixture (a controlled comparison)
        rng = random.Random(f"{seed}:{spec.name.removeprefix('idk-')}:{relation}")
        rows = by_relation.get(relation, [])
        if spec.unknown_fraction is None:
            pool = [r for r in rows if r["category"] == spec.category]
            chosen.extend(_draw(pool, min(n, len(pool)), rng))
            continue
        n_unknown = round(n * spec.unknown_fraction)
        known_pool = [r for r in rows if knowledge_group(r["category"], known, unknown) == "known"]
        unknown_pool = [r for r in rows if knowledge_group(r["category"], known, unknown) == "unknown"]
        chosen.extend(_draw(unknown_pool, n_unknown, rng))
        chosen.extend(_draw(known_pool, n - n_unknown, rng))
    rows = []
    for r in sorted(chosen, key=lambda r: r["id"]):
        group = knowledge_group(r["category"], known, unknown)
        target = IDK_ANSWER if spec.relabel_unknown and group == "unknown" else r["answers"][0]
        rows.append(
            {
                "id": r["id"],
                "relation": r["relation"],
                "subject": r["subject"],
                "question": r["question"],
                "answers": list(r["answers"]),
                "target": target,
                "category": r["category"],
                "knowledge": group,
            }
        )
    return rows


def _read_probe(path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def build_training_set_file(
    probe_path,
    name: str,
    known: Sequence[str],
    unknown: Sequence[str],
    cap: int | None,
    seed: int,
    out_path,
    ood_relations: Sequence[str] = (),
) -> int:
    """Shell of ``build_training_set`` (held-out OOD relations never enter training)."""
    import logging

    from factgap.io import write_parquet

    check_category_groups(known, unknown)
    train_rows = [r for r in _read_probe(probe_path) if r["split"] == "train" and r["relation"] not in ood_relations]
    sizes = per_relation_sizes(train_rows, known, unknown, cap)
    rows = select_training_set(train_rows, parse_qa_training_set(name), sizes, known, unknown, seed)
    write_parquet(pa.Table.from_pylist(rows, schema=TRAIN_SCHEMA), out_path)
    logging.getLogger(__name__).info("training set %s: %d examples, per relation %s", name, len(rows), sizes)
    return len(rows)


TEST_SCHEMA = pa.schema([*QUESTION_FIELDS, POPULARITY_FIELD, pa.field("category", pa.string(), nullable=False)])


def build_eval_sets_file(
    questions_path,
    probe_path,
    dev_cap: int | None,
    seed: int,
    dev_out,
    test_out,
    ood_out,
    ood_relations: Sequence[str] = (),
) -> None:
    """Shell of ``build_eval_sets``: dev (early stopping), the in-distribution test set and the
    out-of-distribution test set (held-out relations), both with base-model categories."""
    import pyarrow.parquet as pq

    from factgap.data.schema import QA_SCHEMA, check_table_columns
    from factgap.io import write_parquet

    questions = check_table_columns(pq.read_table(questions_path), QA_SCHEMA, str(questions_path)).to_pylist()
    dev = cap_per_relation(
        [r for r in questions if r["split"] == "dev" and r["relation"] not in ood_relations], dev_cap, seed, "dev"
    )
    write_parquet(pa.Table.from_pylist(list(dev), schema=QA_SCHEMA), dev_out)
    probed = [{k: r[k] for k in TEST_SCHEMA.names} for r in _read_probe(probe_path) if r["split"] == "test"]
    probed.sort(key=lambda r: r["id"])
    test = [r for r in probed if r["relation"] not in ood_relations]
    ood = [r for r in probed if r["relation"] in ood_relations]
    write_parquet(pa.Table.from_pylist(test, schema=TEST_SCHEMA), test_out)
    write_parquet(pa.Table.from_pylist(ood, schema=TEST_SCHEMA), ood_out)
