"""Adapter: rule verify_facts -> factgap.factscore.pipeline.verify_facts_file."""

from factgap.factscore.pipeline import verify_facts_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads)
verify_facts_file(
    smk.input.facts,
    smk.input.people,
    verifier=smk.wildcards.verifier,
    verify=smk.params.verify,
    out_path=smk.output[0],
    judge_manifest=smk.input.judge or None,
    calibration_path=smk.input.calibration or None,
    cache_path=smk.params.cache,
    backend=smk.params.backend,
)
