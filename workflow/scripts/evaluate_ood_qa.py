"""Adapter: rule evaluate_ood_qa -> factgap.preference.ood_qa.evaluate_ood_qa_file."""

from factgap.preference.ood_qa import evaluate_ood_qa_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
# the base model only (a tuned variant's sets run in evaluate_tuned_variant): no adapter
evaluate_ood_qa_file(
    smk.input.manifest,
    None,
    smk.params.spec,
    smk.params.generation,
    backend=smk.params.backend,
    seed=smk.params.seed,
    out_path=smk.output[0],
)
