"""Adapter: rule prefetch -> factgap.hub.prefetch_table (printed, and kept as a TSV)."""

from factgap.hub import prefetch_table
from factgap.io import write_text
from factgap.runtime import init_job

smk = snakemake  # noqa: F821 (injected by Snakemake)
init_job(smk.log[0], smk.threads)
table = prefetch_table(smk.input)
write_text(table, smk.output[0])
print(table, end="", flush=True)
