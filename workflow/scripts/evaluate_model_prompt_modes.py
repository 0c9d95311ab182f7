"""Adapter: rule evaluate_model_prompt_modes -> factgap.evaluate.evaluate_prompt_modes_file."""

from factgap.evaluate import evaluate_prompt_modes_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
p = smk.params
evaluate_prompt_modes_file(
    smk.input.manifest,
    smk.input.adapter or None,
    smk.input.test,
    smk.input.exemplars,
    out_paths=dict(smk.output.items()),
    variant=p.variant,
    max_new_tokens=p.max_new_tokens,
    cot_max_new_tokens=p.cot_max_new_tokens,
    batch_size=p.batch_size,
    backend=p.backend,
)
