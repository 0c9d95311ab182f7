"""Adapter: rule prefetch -> factgap.hub.prefetch_table (printed, and kept as a TSV)."""
from factgap.hub import prefetch_table
from factgap.io import write_text

smk = snakemake  # noqa: F821 (injected by Snakemake)
table = prefetch_table(smk.input)
write_text(table, smk.output[0])
print(table, end="", flush=True)
