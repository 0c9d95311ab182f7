"""Adapter: rule summarize_seeds -> factgap.seeds.summarize_seeds_files."""

from factgap.runtime import init_job
from factgap.seed_design import study_comparisons
from factgap.seeds import summarize_seeds_files

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
study = smk.wildcards.study
summarize_seeds_files(
    study,
    smk.params.seeds,
    smk.params.tables,
    smk.params.predictions,
    study_comparisons(study, smk.config),
    smk.params.science,
    smk.params.n_resamples,
    smk.params.confidence,
    dict(smk.output.items()),
)
