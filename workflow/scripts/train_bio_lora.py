"""Adapter: rule train_bio_lora -> factgap.bio_sft.train_bio_file."""

from factgap.bio_sft import train_bio_file
from factgap.runtime import init_job
from factgap.train import TrainSettings

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
generation = smk.params.generation
settings = TrainSettings.from_config(
    smk.params.training,
    seed=smk.params.seed,
    max_new_tokens=generation["max_new_tokens"],
    learning_rate=smk.params.learning_rate,
)
train_bio_file(
    smk.input.manifest,
    smk.input.train,
    smk.input.people,
    settings,
    generation=generation,
    verify=smk.params.verify,
    n_dev_people=smk.params.dev_people,
    run_dir=smk.params.run_dir,
    early_stop_dir=smk.output.early_stop,
    convergence_dir=smk.output.convergence,
    history_path=smk.output.history,
    summary_path=smk.output.summary,
)
