"""Adapter of rule summarize_run -> factgap.run_report.publish_run_report."""

from factgap.run_report import publish_run_report
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
publish_run_report(smk.params.benchmarks, smk.params.gpus, list(smk.input.provenance), dict(smk.output.items()))
