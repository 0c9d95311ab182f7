"""Adapter: rule train_lora -> factgap.train.train_lora_files."""
from factgap.distributed import relaunch_with_accelerate, requested_gpus
from factgap.runtime import init_job
from factgap.train import TrainSettings, train_lora_files

smk = snakemake  # noqa: F821
relaunch_with_accelerate(__file__, requested_gpus(smk.resources))  # FSDP over the job's GPUs when > 1
init_job(smk.log[0], smk.threads, smk.params.seed)
t = smk.params.training
settings = TrainSettings(
    epochs=t["epochs"], learning_rate=smk.params.learning_rate, lr_scheduler=t["lr_scheduler"],
    warmup_ratio=t["warmup_ratio"], batch_size=t["batch_size"],
    gradient_accumulation_steps=t["gradient_accumulation_steps"], max_length=t["max_length"], bf16=t["bf16"],
    track_train_accuracy=t["track_train_accuracy"], eval_batch_size=t["eval_batch_size"],
    max_new_tokens=smk.params.max_new_tokens, lora_r=t["lora"]["r"], lora_alpha=t["lora"]["alpha"],
    lora_dropout=t["lora"]["dropout"], lora_target_modules=t["lora"]["target_modules"], seed=smk.params.seed,
)
train_lora_files(smk.input.manifest, smk.input.train, smk.input.dev, settings, smk.params.run_dir,
                 smk.output.early_stop, smk.output.convergence, smk.output.history, smk.output.summary)
