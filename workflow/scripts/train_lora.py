"""Adapter: rule train_lora -> factgap.train.train_lora_files."""

from factgap.distributed import relaunch_with_accelerate, requested_gpus
from factgap.runtime import init_job
from factgap.train import TrainSettings, train_lora_files

smk = snakemake  # noqa: F821
relaunch_with_accelerate(__file__, requested_gpus(smk.resources))  # FSDP over the job's GPUs when > 1
init_job(smk.log[0], smk.threads, smk.params.seed)
settings = TrainSettings.from_config(
    smk.params.training,
    seed=smk.params.seed,
    max_new_tokens=smk.params.max_new_tokens,
    learning_rate=smk.params.learning_rate,
)
train_lora_files(
    smk.input.manifest,
    smk.input.train,
    smk.input.dev,
    settings,
    smk.params.run_dir,
    smk.output.early_stop,
    smk.output.convergence,
    smk.output.history,
    smk.output.summary,
)
