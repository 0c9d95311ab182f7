"""Adapter: rule probe_mc -> factgap.s4.pipeline.probe_mc_file."""

from factgap.runtime import init_job
from factgap.s4.pipeline import probe_mc_file

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
p = smk.params
probe_mc_file(
    smk.input.manifest,
    smk.input.mc_items,
    smk.output[0],
    domain=p.domain,
    scoring=p.scoring,
    n_demos=p.n_demos,
    demo_seed=p.demo_seed,
    demo_pool=p.demo_pool,
    threshold=p.threshold,
    batch_size=p.batch_size,
)
