"""Adapter: rule build_preference_pairs -> factgap.preference.pipeline.build_pairs_file."""

from factgap.preference.pipeline import build_pairs_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
build_pairs_file(
    smk.input.bios,
    smk.input.scores,
    smk.input.facts,
    smk.input.knowledge,
    smk.input.people,
    pair_set=smk.wildcards.pairset,
    sampler=smk.wildcards.sampler,
    spec=smk.params.preference,
    verifier=smk.params.verifier,
    seed=smk.params.seed,
    train_path=smk.output.train,
    dev_path=smk.output.dev,
)
