"""Adapter: rule build_bio_training_sets -> factgap.bio_sft.build_bio_sets_file."""

from factgap.bio_sft import build_bio_sets_file
from factgap.runtime import init_job

smk = snakemake  # noqa: F821
init_job(smk.log[0], 1, smk.params.seed)
build_bio_sets_file(
    smk.input.people,
    smk.input.train_scores,
    smk.input.test_scores,
    verifier=smk.params.verifier,
    share=smk.params.share,
    max_words=smk.params.max_words,
    prompt=smk.params.prompt,
    seed=smk.params.seed,
    known_path=smk.output.known,
    unknown_path=smk.output.unknown,
    test_path=smk.output.test,
)
