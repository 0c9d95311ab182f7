"""LoRA supervised fine-tuning with per-epoch checkpoints and exact-match tracking.

After every epoch the trainer saves a checkpoint (adapter + optimizer + RNG state) and records
dev exact match (and, optionally, exact match of every training example, for the fitting
dynamics of Known vs Unknown examples). The early-stop model is the epoch with the best dev
exact match (ties: the earliest), the convergence model the last epoch. A job killed at any
point resumes from its last checkpoint when rerun.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from factgap.io import write_json, write_parquet
from factgap.prompts import qa_completion, qa_prompt
from factgap.text import exact_match, first_line_answer

log = logging.getLogger(__name__)

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("epoch", pa.int64(), nullable=False),
        pa.field("global_step", pa.int64(), nullable=False),
        pa.field("eval_set", pa.string(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("relation", pa.string(), nullable=False),
        pa.field("category", pa.string()),
        pa.field("prediction", pa.string(), nullable=False),
        pa.field("correct", pa.bool_(), nullable=False),
    ]
)

SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("epoch", pa.int64(), nullable=False),
        pa.field("global_step", pa.int64(), nullable=False),
        pa.field("train_loss", pa.float64()),
        pa.field("dev_em", pa.float64(), nullable=False),
        pa.field("train_em", pa.float64()),
        pa.field("is_early_stop", pa.bool_(), nullable=False),
        pa.field("is_convergence", pa.bool_(), nullable=False),
    ]
)


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 10
    learning_rate: float = 1e-4
    lr_scheduler: str = "constant"
    warmup_ratio: float = 0.0
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_length: int = 128
    bf16: str = "auto"
    track_train_accuracy: bool = True
    eval_batch_size: int = 32
    max_new_tokens: int = 16
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: str = "all-linear"
    seed: int = 0
    extra: Mapping = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, training: Mapping, seed: int, max_new_tokens: int, learning_rate: float | None = None
    ) -> TrainSettings:
        """From the config's ``training`` section (``learning_rate``: a per-model override)."""
        lora = training.get("lora", {})
        return cls(
            **{k: training[k] for k in TRAIN_CONFIG_KEYS if k in training},
            **{f"lora_{k}": lora[k] for k in ("r", "alpha", "dropout", "target_modules") if k in lora},
            learning_rate=learning_rate or training.get("learning_rate", cls.learning_rate),
            max_new_tokens=max_new_tokens,
            seed=seed,
        )


# keys of the config's training section that map one to one onto TrainSettings fields
TRAIN_CONFIG_KEYS = (
    "epochs",
    "lr_scheduler",
    "warmup_ratio",
    "batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "bf16",
    "track_train_accuracy",
    "eval_batch_size",
)


def sft_records(rows: Sequence[Mapping]) -> list[dict]:
    """Prompt/completion pairs in the 0-shot QA format (loss on the completion only)."""
    return [{"prompt": qa_prompt(r["question"]), "completion": qa_completion(r["target"])} for r in rows]


def select_epochs(dev_em_by_epoch: Mapping[int, float]) -> tuple[int, int]:
    """(early-stop epoch, convergence epoch): best dev EM with ties to the earliest, and the last."""
    if not dev_em_by_epoch:
        raise ValueError("no epoch was evaluated")
    epochs = sorted(dev_em_by_epoch)
    best = max(epochs, key=lambda e: (dev_em_by_epoch[e], -e))
    return best, epochs[-1]


def cpu_supports_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def resolve_bf16(setting: str) -> bool:
    import torch

    if setting == "on":
        return True
    if setting == "off":
        return False
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return False  # CPU autocast in bf16 changes numerics machine by machine; opt in with "on"


def score_items(backend, rows: Sequence[Mapping], max_new_tokens: int, batch_size: int, desc: str) -> list[dict]:
    prompts = [qa_prompt(r["question"]) for r in rows]
    raw = backend.greedy(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, desc=desc)
    out = []
    for row, text in zip(rows, raw):
        pred = first_line_answer(text)
        out.append(
            {
                "id": row["id"],
                "relation": row["relation"],
                "category": row.get("category"),
                "prediction": pred,
                "correct": exact_match(pred, row["answers"]),
            }
        )
    return out


def _epoch_file(run_dir: Path, epoch: int) -> Path:
    return run_dir / "epochs" / f"epoch_{epoch:03d}.json"


def qa_epoch_evaluator(
    tokenizer, dev_rows: Sequence[Mapping], train_rows: Sequence[Mapping], settings: TrainSettings
) -> Callable:
    """Per-epoch evaluation of QA training: greedy 0-shot exact match on dev (and training) items."""
    from factgap.generation import HFBackend

    def evaluate_epoch(model) -> tuple[list[dict], list[dict]]:
        backend = HFBackend(model, tokenizer, show_progress=False)
        dev = score_items(backend, dev_rows, settings.max_new_tokens, settings.eval_batch_size, "dev")
        train = (
            score_items(backend, train_rows, settings.max_new_tokens, settings.eval_batch_size, "train")
            if settings.track_train_accuracy
            else []
        )
        return dev, train

    return evaluate_epoch


def make_epoch_callback(run_dir: Path, evaluate_epoch: Callable):
    """A callback that evaluates the model after every epoch (``evaluate_epoch(model) -> (dev items,
    train items)``, each item with a boolean ``correct``) and saves the record next to the checkpoints."""
    from transformers import TrainerCallback

    class EpochExactMatch(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                log.info(
                    "step %d/%d (epoch %.2f): loss %.4f",
                    state.global_step,
                    state.max_steps,
                    logs.get("epoch", 0.0),
                    float(logs["loss"]),
                )

        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            import torch

            epoch = int(round(state.epoch))
            was_training = model.training
            model.eval()
            use_cache = getattr(model.config, "use_cache", True)
            model.config.use_cache = True
            with torch.no_grad():
                dev, train = evaluate_epoch(model)
            model.config.use_cache = use_cache
            if was_training:
                model.train()
            if not state.is_world_process_zero:
                return  # every rank decodes (FSDP forward is collective); rank 0 writes
            losses = [
                h["loss"] for h in state.log_history if "loss" in h and math.ceil(h.get("epoch", 0) - 1e-9) == epoch
            ]  # logged during this epoch
            record = {
                "epoch": epoch,
                "global_step": state.global_step,
                "train_loss": losses[-1] if losses else None,
                "dev_em": sum(r["correct"] for r in dev) / len(dev),
                "train_em": (sum(r["correct"] for r in train) / len(train)) if train else None,
                "dev": dev,
                "train": train,
            }
            write_json(record, _epoch_file(run_dir, epoch))
            log.info(
                "epoch %d (step %d): dev accuracy %.3f%s",
                epoch,
                state.global_step,
                record["dev_em"],
                "" if record["train_em"] is None else f", train accuracy {record['train_em']:.3f}",
            )

    return EpochExactMatch()


def _checkpoint_for_step(checkpoint_dir: Path, step: int) -> Path:
    path = checkpoint_dir / f"checkpoint-{step}"
    if not path.is_dir():
        raise FileNotFoundError(f"no checkpoint for step {step} in {checkpoint_dir}")
    return path


def copy_adapter(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    from factgap.io import fsync_file

    for name in ADAPTER_FILES:
        shutil.copy2(src / name, tmp / name)
        fsync_file(tmp / name)
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)


def start_run_dir(run_dir: str | os.PathLike, identity: Any) -> Path:
    """The run's checkpoint folder, emptied first when it holds a run of other inputs or settings.

    A killed job resumes from its checkpoints only when the rerun would train the same thing: the
    run folder outlives the rule's outputs, so a changed config or training set must not pick up a
    checkpoint of the old one. ``identity`` (JSON-serialisable: data, settings, model) is hashed
    into ``run_dir/identity.sha256``.
    """
    import hashlib

    run_dir = Path(run_dir)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    marker = run_dir / "identity.sha256"
    if run_dir.exists() and (not marker.exists() or marker.read_text().strip() != digest):
        if any(run_dir.iterdir()):
            log.warning("%s holds a run of other inputs or settings: starting afresh", run_dir)
        shutil.rmtree(run_dir)
    checkpoint_dir = run_dir / "checkpoints"
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(digest + "\n")
    return checkpoint_dir


def train_lora(
    manifest: Mapping,
    records: Sequence[Mapping],
    make_evaluator: Callable,
    settings: TrainSettings,
    run_dir: str | os.PathLike,
    early_stop_dir: str | os.PathLike,
    convergence_dir: str | os.PathLike,
    history_path: str | os.PathLike,
    summary_path: str | os.PathLike,
) -> dict:
    """Shell: train on prompt/completion ``records`` (plain or conversational; loss on the completion),
    evaluate after every epoch with ``make_evaluator(tokenizer)``, resume if checkpoints exist, then
    export the early-stop and convergence adapters."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from factgap.models import load_tokenizer

    if not records:
        raise ValueError("empty training set")
    run_dir = Path(run_dir)
    checkpoint_dir = start_run_dir(
        run_dir, {"manifest": manifest, "records": list(records), "settings": dataclasses.asdict(settings)}
    )
    tokenizer = load_tokenizer(manifest)
    model = load_trainable_model(manifest)
    lora = lora_config(settings)
    config = SFTConfig(**sft_config_kwargs(settings, checkpoint_dir, torch.cuda.is_available()))
    dataset = Dataset.from_list(list(records))
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[make_epoch_callback(run_dir, make_evaluator(load_tokenizer(manifest)))],
    )
    if not train_resuming(trainer, checkpoint_dir)[0]:
        return {}
    return export_run(run_dir, settings.epochs, early_stop_dir, convergence_dir, history_path, summary_path)


def sft_config_kwargs(settings: TrainSettings, output_dir: str | os.PathLike, use_cuda: bool) -> dict:
    """The ``SFTConfig`` arguments of ``train_lora`` (the benchmark times the same ones).

    Gradient checkpointing only on GPUs: on a CPU memory is not the limit, and recomputing every
    layer's forward in the backward pass costs about a quarter of a LoRA step.
    """
    return dict(
        output_dir=str(output_dir),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=float(settings.warmup_ratio),
        max_length=settings.max_length,
        bf16=resolve_bf16(settings.bf16),
        gradient_checkpointing=use_cuda,
        save_strategy="epoch",
        save_total_limit=None,
        logging_steps=1,
        logging_first_step=True,
        report_to=[],
        seed=settings.seed,
        data_seed=settings.seed,
        dataloader_num_workers=0,
        use_cpu=not use_cuda,
        disable_tqdm=False,
        completion_only_loss=True,
    )


def lora_config(settings):
    """LoRA on the configured modules (``all-linear`` or a comma-separated list of module names)."""
    from peft import LoraConfig

    targets = settings.lora_target_modules
    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
        task_type="CAUSAL_LM",
    )


def load_trainable_model(manifest: Mapping):
    from transformers import AutoModelForCausalLM

    from factgap.models import hub_revision, torch_dtype

    return AutoModelForCausalLM.from_pretrained(
        manifest["load_from"],
        revision=hub_revision(manifest),
        dtype=torch_dtype("float32" if manifest.get("dtype") == "float32" else "auto"),
    )


CHECKPOINT_COMPLETE_MARKER = "trainer_state.json"  # the Trainer writes it last when it saves a checkpoint


def last_complete_checkpoint(checkpoint_dir: Path, remove_incomplete: bool = True) -> str | None:
    """The checkpoint with the highest step that was saved in full. A job killed while saving leaves a
    checkpoint folder without the marker; resuming from it would fail on every rerun, so it is removed."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return None
    steps = {}
    for folder in checkpoint_dir.iterdir():
        match = re.fullmatch(r"checkpoint-(\d+)", folder.name)
        if match and folder.is_dir():
            steps[folder] = int(match.group(1))
    complete = {f: n for f, n in steps.items() if (f / CHECKPOINT_COMPLETE_MARKER).is_file()}
    if remove_incomplete:
        for folder in steps.keys() - complete.keys():
            log.warning("removing %s: saved only in part (the job was killed while saving it)", folder)
            shutil.rmtree(folder, ignore_errors=True)
    return str(max(complete, key=complete.get)) if complete else None


def train_resuming(trainer, checkpoint_dir: Path) -> tuple[bool, str | None]:
    """Train, continuing from the last checkpoint a killed run left: (main process?, checkpoint resumed from)."""
    last = last_complete_checkpoint(checkpoint_dir, remove_incomplete=trainer.accelerator.is_main_process)
    trainer.accelerator.wait_for_everyone()
    if last:
        log.info("resuming from %s", last)
    trainer.train(resume_from_checkpoint=last)
    trainer.accelerator.wait_for_everyone()
    return trainer.accelerator.is_main_process, last


def export_adapters(
    run_dir: Path, records: Sequence[Mapping], criterion: str, early_stop_dir, convergence_dir
) -> tuple[int, int]:
    """Copy the adapters of the best epoch by ``criterion`` (ties: earliest) and of the last epoch."""
    early, last = select_epochs({r["epoch"]: r[criterion] for r in records})
    step_of = {r["epoch"]: r["global_step"] for r in records}
    copy_adapter(_checkpoint_for_step(run_dir / "checkpoints", step_of[early]), Path(early_stop_dir))
    copy_adapter(_checkpoint_for_step(run_dir / "checkpoints", step_of[last]), Path(convergence_dir))
    return early, last


def load_epoch_records(run_dir: Path, epochs: int) -> list[dict]:
    records = []
    for epoch in range(1, epochs + 1):
        path = _epoch_file(run_dir, epoch)
        if not path.exists():
            raise FileNotFoundError(f"epoch {epoch} has no exact-match record ({path}); training incomplete")
        records.append(json.loads(path.read_text()))
    return records


def export_run(
    run_dir: str | os.PathLike, epochs: int, early_stop_dir, convergence_dir, history_path, summary_path
) -> dict:
    run_dir = Path(run_dir)
    records = load_epoch_records(run_dir, epochs)
    early, last = export_adapters(run_dir, records, "dev_em", early_stop_dir, convergence_dir)
    history = [
        {"epoch": r["epoch"], "global_step": r["global_step"], "eval_set": name, **item}
        for r in records
        for name in ("dev", "train")
        for item in r[name]
    ]
    write_parquet(pa.Table.from_pylist(history, schema=HISTORY_SCHEMA), history_path)
    summary = [
        {
            "epoch": r["epoch"],
            "global_step": r["global_step"],
            "train_loss": r["train_loss"],
            "dev_em": r["dev_em"],
            "train_em": r["train_em"],
            "is_early_stop": r["epoch"] == early,
            "is_convergence": r["epoch"] == last,
        }
        for r in records
    ]
    write_parquet(pa.Table.from_pylist(summary, schema=SUMMARY_SCHEMA), summary_path)
    log.info(
        "early-stop epoch %d (dev EM %.3f), convergence epoch %d (dev EM %.3f)",
        early,
        records[early - 1]["dev_em"],
        last,
        records[last - 1]["dev_em"],
    )
    return {"early_stop_epoch": early, "convergence_epoch": last}


def train_lora_files(
    manifest_path,
    train_path,
    dev_path,
    settings: TrainSettings,
    run_dir,
    early_stop_dir,
    convergence_dir,
    history_path,
    summary_path,
) -> dict:
    """Shell of ``train_lora``."""
    import pyarrow.parquet as pq

    from factgap.io import read_json

    train_rows, dev_rows = pq.read_table(train_path).to_pylist(), pq.read_table(dev_path).to_pylist()
    if not train_rows:
        raise ValueError(
            f"empty training set {train_path}: no relation has both Known and Unknown examples "
            "(probe more questions or change splits.known_categories)"
        )
    return train_lora(
        read_json(manifest_path),
        sft_records(train_rows),
        partial(qa_epoch_evaluator, dev_rows=dev_rows, train_rows=train_rows, settings=settings),
        settings,
        run_dir,
        early_stop_dir,
        convergence_dir,
        history_path,
        summary_path,
    )
