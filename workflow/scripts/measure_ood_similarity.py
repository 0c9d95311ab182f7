"""Adapter: rule measure_ood_similarity -> factgap.similarity.measure_ood_similarity."""
from factgap.runtime import init_job
from factgap.similarity import measure_ood_similarity

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
measure_ood_similarity(smk.input.test, smk.input.ood, model_path=smk.params.embedding_model, out_json=smk.output[0])
