"""Adapter: rule build_eval_sets -> factgap.splits.build_eval_sets_file."""

from factgap.runtime import init_job
from factgap.splits import build_eval_sets_file

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
build_eval_sets_file(
    smk.input.questions,
    smk.input.probe,
    dev_cap=smk.params.dev_cap,
    seed=smk.params.seed,
    dev_out=smk.output.dev,
    test_out=smk.output.test,
    ood_out=smk.output.ood,
    ood_relations=smk.params.ood_relations,
)
