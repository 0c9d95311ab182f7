"""Adapter: rule prepare_dataset -> factgap.data.prepare.prepare_dataset."""

from factgap.data.prepare import prepare_dataset
from factgap.hub import use_records
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
use_records(smk.input.hub)  # prefetched Hub snapshots, if the config names any
prepare_dataset(smk.wildcards.dataset, spec=smk.params.spec, seed=smk.params.seed, out_path=smk.output[0])
