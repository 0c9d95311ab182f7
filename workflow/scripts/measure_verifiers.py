"""Adapter: rule measure_verifiers -> factgap.factscore.pipeline.measure_verifiers_file."""

from factgap.factscore.pipeline import measure_verifiers_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
measure_verifiers_file(
    smk.input.people,
    verifiers=smk.params.verifiers,
    claims_spec=smk.params.claims,
    verify=smk.params.verify,
    seed=smk.params.seed,
    out_path=smk.output.claims,
    summary_path=smk.output.summary,
    judge_manifest=smk.input.judge or None,
    cache_path=smk.params.cache,
    backend=smk.params.backend,
)
