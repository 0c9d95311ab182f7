"""Adapter: rule extract_facts -> factgap.factscore.pipeline.extract_facts_file."""

from factgap.factscore.pipeline import extract_facts_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
extract_facts_file(
    smk.input.bios,
    smk.input.people,
    extractor=smk.params.extractor,
    out_path=smk.output[0],
    judge_manifest=smk.input.judge or None,
    cache_path=smk.params.cache,
    backend=smk.params.backend,
)
