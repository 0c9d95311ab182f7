"""Adapter: rule prepare_people -> factgap.factscore.pipeline.prepare_people_file."""

from factgap.factscore.pipeline import prepare_people_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
prepare_people_file(smk.params.spec, seed=smk.params.seed, out_path=smk.output[0])
