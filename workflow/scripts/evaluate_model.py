"""Adapter: rule evaluate_model -> factgap.evaluate.evaluate_file."""
from factgap.evaluate import evaluate_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
adapter = smk.input.adapter or None  # the base model has no adapter
evaluate_file(smk.input.manifest, adapter, smk.input.test, smk.input.exemplars, smk.wildcards.prompt,
              smk.params.variant, smk.params.max_new_tokens, smk.params.cot_max_new_tokens,
              smk.params.batch_size, smk.output[0], smk.params.backend)
