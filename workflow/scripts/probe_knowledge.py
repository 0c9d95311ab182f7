"""Adapter: rule probe_knowledge -> factgap.probe.probe_dataset_file."""

from factgap.probe import ProbeSettings, probe_dataset_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
settings = ProbeSettings.from_config(smk.params.probe, seed=smk.params.seed)
probe_dataset_file(
    smk.input.manifest,
    smk.input.questions,
    out_path=smk.output[0],
    settings=settings,
    backend=smk.params.backend,
    ood_relations=smk.params.ood_relations,
)
