"""Adapter: rule evaluate_model -> factgap.evaluate.evaluate_file."""

from factgap.evaluate import evaluate_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
p = smk.params
evaluate_file(
    smk.input.manifest,
    smk.input.adapter or None,
    smk.input.test,
    smk.input.exemplars,  # base: no adapter
    mode=smk.wildcards.prompt,
    variant=p.variant,
    max_new_tokens=p.max_new_tokens,
    cot_max_new_tokens=p.cot_max_new_tokens,
    batch_size=p.batch_size,
    out_path=smk.output[0],
    backend=p.backend,
)
