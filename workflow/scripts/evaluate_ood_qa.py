"""Adapter: rule evaluate_ood_qa -> factgap.preference.ood_qa.evaluate_ood_qa_file."""
from factgap.preference.ood_qa import evaluate_ood_qa_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
evaluate_ood_qa_file(smk.input.manifest, smk.input.adapter or None, smk.params.spec, smk.params.generation,
                     backend=smk.params.backend, seed=smk.params.seed, out_path=smk.output[0])
