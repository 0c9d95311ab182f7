"""Shell of the ``prepare_dataset`` rule: any configured loader -> the normalised QA table."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from factgap.data.schema import qa_table
from factgap.io import write_parquet
from factgap.sampling import subsample_per_relation

log = logging.getLogger(__name__)


def load_records(name: str, spec: Mapping[str, Any], seed: int) -> tuple[list[dict], str]:
    """(records, source description) for one configured dataset, by its loader's name."""
    from factgap.data.loaders import qa_loader

    return qa_loader(spec["loader"]).load(name, spec, seed)


def prepare_dataset(name: str, spec: Mapping[str, Any], seed: int, out_path) -> dict:
    records, source = load_records(name, spec, seed)
    caps = dict(spec.get("max_per_relation") or {})
    records = subsample_per_relation(records, caps, seed)
    table = qa_table(records, source)
    write_parquet(table, out_path)
    counts = table.group_by(["relation", "split"]).aggregate([("id", "count")]).to_pylist()
    log.info(
        "dataset %s from %s: %d questions; per relation/split: %s",
        name,
        source,
        table.num_rows,
        sorted((c["relation"], c["split"], c["id_count"]) for c in counts),
    )
    return {"questions": table.num_rows}
