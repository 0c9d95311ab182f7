"""Adapter: rule write_cot_rationales -> factgap.evaluate.write_exemplars_file."""
from factgap.evaluate import write_exemplars_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
write_exemplars_file(smk.input.manifest, smk.input.known, [smk.input.test, smk.input.ood], smk.params.n_shots, smk.params.seed,
                     smk.params.max_new_tokens, smk.params.batch_size, smk.output[0], smk.params.backend)
