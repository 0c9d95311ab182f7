"""Adapter: rule build_training_set -> factgap.splits.build_training_set_file."""
from factgap.runtime import init_job
from factgap.splits import build_training_set_file

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
build_training_set_file(smk.input.probe, smk.wildcards.trainset, smk.params.known, smk.params.unknown,
                        smk.params.cap, smk.params.seed, smk.output[0], smk.params.ood_relations)
