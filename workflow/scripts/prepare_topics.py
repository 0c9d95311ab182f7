"""Adapter: rule prepare_topics -> factgap.factscore.topics.prepare_topics_file."""

from factgap.factscore.topics import prepare_topics_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
prepare_topics_file(smk.params.spec, seed=smk.params.seed, out_path=smk.output[0])
