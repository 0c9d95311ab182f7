"""Adapter: rule probe_knowledge -> factgap.probe.probe_dataset_file."""
from factgap.probe import ProbeSettings, probe_dataset_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
settings = ProbeSettings.from_config(smk.params.probe, seed=smk.params.seed)
probe_dataset_file(smk.input.manifest, smk.input.questions, smk.output[0], settings, smk.params.backend,
                   smk.params.ood_relations)
