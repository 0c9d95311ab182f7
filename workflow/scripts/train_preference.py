"""Adapter: rule train_preference -> factgap.preference.train.train_preference_files."""

from factgap.preference.pipeline import preference_settings
from factgap.preference.train import train_preference_files
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
settings = preference_settings(smk.params.s3, smk.wildcards.method, smk.params.seed)  # s3 holds this method's part
train_preference_files(
    smk.input.manifest,
    smk.input.pairs,
    smk.input.dev_pairs,
    settings,
    smk.params.run_dir,
    smk.output.early_stop,
    smk.output.convergence,
    smk.output.history,
    smk.output.dev_scores,
)
