"""Adapter: rule measure_ood_similarity -> factgap.similarity.measure_ood_similarity."""

from factgap.hub import use_records
from factgap.runtime import init_job
from factgap.similarity import measure_ood_similarity

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
use_records(smk.input.hub)  # prefetched Hub snapshots, if the config names any
measure_ood_similarity(smk.input.test, smk.input.ood, model_path=smk.params.embedding_model, out_json=smk.output[0])
