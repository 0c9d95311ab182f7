"""Adapter: rule prepare_model -> factgap.models.prepare_model."""

from factgap.io import read_json
from factgap.models import prepare_model
from factgap.runtime import init_job

smk = snakemake  # noqa: F821 (injected by Snakemake)
init_job(smk.log[0], smk.threads)
hub_record = read_json(smk.input.hub[0]) if smk.input.hub else None  # a prefetched Hub model
prepare_model(
    smk.params.spec, out_dir=smk.params.checkpoint_dir, manifest_path=smk.output.manifest, hub_record=hub_record
)
