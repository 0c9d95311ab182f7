"""Adapter: rules prepare_mc_domain / prepare_mmlu_tests -> factgap.s4.pipeline.prepare_mc_items."""

from factgap.hub import use_records
from factgap.runtime import init_job
from factgap.s4.pipeline import prepare_mc_items

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
use_records(smk.input.hub)  # prefetched Hub snapshots, if the config names any
prepare_mc_items(
    smk.params.spec,
    smk.params.seed,
    smk.output[0],
    mmlu_subjects=smk.params.get("subjects", ()),
    max_per_subject=smk.params.get("max_per_subject"),
    tests_only=smk.params.get("tests_only", False),
)
