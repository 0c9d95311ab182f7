"""Adapter: rule train_s4_lora -> factgap.s4.pipeline.train_s4_file."""

from factgap.runtime import init_job
from factgap.s4.pipeline import train_s4_file
from factgap.train import TrainSettings

smk = snakemake  # noqa: F821
init_job(smk.log[0], smk.threads, smk.params.seed)
s4 = smk.params.s4
settings = TrainSettings.from_config(
    smk.params.training, seed=smk.params.seed, max_new_tokens=1, learning_rate=smk.params.learning_rate
)
train_s4_file(
    smk.input.manifest,
    smk.input.train,
    smk.input.dev,
    settings,
    domain=s4["domain"],
    scoring=s4["scoring"],
    batch_size=s4["batch_size"],
    run_dir=smk.params.run_dir,
    early_stop_dir=smk.output.early_stop,
    convergence_dir=smk.output.convergence,
    history_path=smk.output.history,
    summary_path=smk.output.summary,
)
