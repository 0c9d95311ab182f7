"""Adapter: rule score_bios -> factgap.factscore.pipeline.score_bios_file."""

from factgap.factscore.pipeline import score_bios_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
score_bios_file(
    smk.input.bios,
    smk.input.people,
    smk.input.facts,
    list(smk.input.verdicts),
    gamma=smk.params.gamma,
    out_path=smk.output[0],
)
