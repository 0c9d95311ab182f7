"""Adapter: rule evaluate_mc -> factgap.s4.pipeline.evaluate_mc_file."""

from factgap.runtime import init_job
from factgap.s4.pipeline import evaluate_mc_file

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
s4 = smk.params.s4
evaluate_mc_file(
    smk.input.manifest,
    smk.input.adapter or None,
    smk.input.domain,
    smk.input.mmlu,
    smk.params.id_subjects,
    smk.params.ood_subjects,
    smk.params.variant,
    domain=s4["domain"],
    scoring=s4["scoring"],
    batch_size=s4["batch_size"],
    out_path=smk.output[0],
)
