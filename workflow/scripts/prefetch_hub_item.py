"""Adapter: rule prefetch_hub_item -> factgap.hub.prefetch_item (the one job that reaches the Hub)."""

from factgap.hub import prefetch_item
from factgap.runtime import init_job

smk = snakemake  # noqa: F821 (injected by Snakemake)
init_job(smk.log[0], smk.threads)
record = prefetch_item(smk.params.item, smk.output[0])
print(f"{record['kind']} {record['repo_id']} @ {record['sha']} -> {record['snapshot']}", flush=True)
