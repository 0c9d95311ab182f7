"""Adapter: rule build_training_set -> factgap.splits.build_training_set_file."""

from factgap.runtime import init_job
from factgap.splits import build_training_set_file

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
p = smk.params
build_training_set_file(
    smk.input.probe,
    name=smk.wildcards.trainset,
    known=p.known,
    unknown=p.unknown,
    cap=p.cap,
    seed=p.seed,
    out_path=smk.output[0],
    ood_relations=p.ood_relations,
)
