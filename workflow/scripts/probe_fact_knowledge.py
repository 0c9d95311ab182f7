"""Adapter: rule probe_fact_knowledge -> factgap.factscore.pipeline.probe_fact_knowledge_file."""

from factgap.factscore.pipeline import probe_fact_knowledge_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
probe_fact_knowledge_file(
    smk.input.manifest,
    smk.input.facts,
    smk.input.people,
    knowledge=smk.params.knowledge,
    seed=smk.params.seed,
    backend=smk.params.backend,
    out_path=smk.output[0],
    verdicts_path=smk.input.verdicts or None,
)
