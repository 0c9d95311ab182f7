"""Adapter: rule write_cot_rationales -> factgap.evaluate.write_exemplars_file."""

from factgap.evaluate import write_exemplars_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
p = smk.params
write_exemplars_file(
    smk.input.manifest,
    smk.input.known,
    [smk.input.test, smk.input.ood],
    n_shots=p.n_shots,
    seed=p.seed,
    max_new_tokens=p.max_new_tokens,
    batch_size=p.batch_size,
    out_path=smk.output[0],
    backend=p.backend,
)
