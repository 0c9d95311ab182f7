"""Adapter: rule build_s4_training_set -> factgap.s4.pipeline.build_s4_training_set_file."""

from factgap.runtime import init_job
from factgap.s4.pipeline import build_s4_training_set_file

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
p = smk.params
build_s4_training_set_file(
    smk.input.sets, smk.input.texts, p.general, p.general_ratio, smk.wildcards.trainset, p.domain, p.seed, smk.output[0]
)
