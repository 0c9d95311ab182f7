"""Adapter: rule select_s4_sets -> factgap.s4.pipeline.select_sets_file."""

from factgap.runtime import init_job
from factgap.s4.pipeline import select_sets_file

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
p = smk.params
select_sets_file(
    smk.input.probe,
    seed=p.seed,
    threshold=p.threshold,
    max_size=p.max_size,
    dev_items=p.dev_items,
    sets_out=smk.output.sets,
    dev_out=smk.output.dev,
    summary_out=smk.output.summary,
)
