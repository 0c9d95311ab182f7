"""LoRA preference tuning (S3): DPO, IPO, KTO, CPO and RSO with TRL 1.16, resumable per epoch.

The LoRA adapter is fresh (a ``peft_config`` given to the trainer), so the reference model of
DPO / IPO / RSO / KTO is the same network with the adapter disabled: no second copy in memory.
Method -> trainer: dpo ``DPOTrainer(loss_type=["sigmoid"])``, ipo ``["ipo"]`` (TRL's IPO is
length-normalised), rso ``["hinge"]`` on pairs we rejection-sample ourselves
(``pairs.rso_pairs``), kto ``KTOTrainer`` on the unpaired conversion of the pairs, cpo
``trl.experimental.cpo.CPOTrainer`` (no reference model).

After every epoch a callback scores the dev pairs (policy and adapter-disabled reference
log-probabilities of chosen and rejected) and writes the epoch record next to the checkpoints,
as ``factgap.train`` does for SFT and with its helpers: a job killed at any point resumes from its
last checkpoint when rerun, and epochs already recorded are not trained again. The early-stop
adapter is the epoch with the best dev reward accuracy (share of dev pairs whose implicit reward
``beta * (log pi - log ref)`` ranks chosen over rejected; ties: the earliest), the convergence
adapter the last epoch. The same implicit reward is used for every method so that epochs and
methods compare on one scale (CPO's own logged reward, ``beta * log pi``, ranks like
``dev_logp_accuracy``).
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pyarrow as pa

from factgap.io import write_json, write_parquet
from factgap.naming import PREFERENCE_METHODS
from factgap.preference.losses import implicit_rewards, reward_accuracy, sequence_logps
from factgap.preference.pairs import kto_rows
from factgap.scoring import common_prefix_length
from factgap.train import (
    _epoch_file,
    export_adapters,
    load_epoch_records,
    load_trainable_model,
    lora_config,
    resolve_bf16,
    start_run_dir,
    train_resuming,
)

log = logging.getLogger(__name__)

# DPOTrainer loss_type per pairwise method (TRL 1.16 takes a list)
DPO_LOSS_TYPES = {"dpo": ["sigmoid"], "ipo": ["ipo"], "rso": ["hinge"]}

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("method", pa.string(), nullable=False),
        pa.field("epoch", pa.int64(), nullable=False),
        pa.field("global_step", pa.int64(), nullable=False),
        pa.field("train_loss", pa.float64()),
        pa.field("dev_reward_accuracy", pa.float64(), nullable=False),
        pa.field("dev_reward_margin", pa.float64(), nullable=False),
        pa.field("dev_logp_accuracy", pa.float64(), nullable=False),
        pa.field("dev_reward_accuracy_general", pa.float64()),
        pa.field("dev_reward_accuracy_atomic", pa.float64()),
        pa.field("n_dev_pairs", pa.int64(), nullable=False),
        pa.field("is_early_stop", pa.bool_(), nullable=False),
        pa.field("is_convergence", pa.bool_(), nullable=False),
    ]
)

DEV_SCORES_SCHEMA = pa.schema(
    [
        pa.field("epoch", pa.int64(), nullable=False),
        pa.field("pair_id", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("policy_chosen", pa.float64(), nullable=False),
        pa.field("policy_rejected", pa.float64(), nullable=False),
        pa.field("ref_chosen", pa.float64(), nullable=False),
        pa.field("ref_rejected", pa.float64(), nullable=False),
        pa.field("chosen_tokens", pa.int64(), nullable=False),
        pa.field("rejected_tokens", pa.int64(), nullable=False),
        pa.field("reward_margin", pa.float64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class PreferenceSettings:
    """Training settings of one preference method. Defaults equal config/schema.yaml's
    ``s3.preference.training`` (UNVERIFIED for APEFT, docs/study-s3.md); the workflow builds them with
    ``from_config`` from validated config, and tests/test_study_design.py checks the two agree."""

    method: str = "dpo"
    beta: float = 0.1
    learning_rate: float = 5e-5
    lr_scheduler: str = "constant"
    warmup_ratio: float = 0.0
    epochs: int = 2
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    eval_batch_size: int = 8
    max_length: int = 512  # prompt + completion tokens (TRL 1.16 has no max_prompt_length)
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0  # TRL's disable_dropout=True zeroes dropout layers anyway
    lora_target_modules: str = "all-linear"
    bf16: str = "auto"
    chat_template: bool = True  # render prompts with the tokenizer's chat template (s3.generation.chat_template)
    seed: int = 0
    cpo_alpha: float = 1.0  # weight of CPO's NLL (behaviour cloning) term on the chosen response
    kto_desirable_weight: float = 1.0
    kto_undesirable_weight: float = 1.0
    kto_conflicts: str = "keep"  # pairs.kto_rows on_conflict (s3.preference.kto_conflicts)

    def __post_init__(self):
        if self.method not in PREFERENCE_METHODS:
            raise ValueError(f"preference method {self.method!r} is not one of {PREFERENCE_METHODS}")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.method == "kto" and self.batch_size < 2:
            raise ValueError("KTO needs batch_size > 1 (its KL estimate pairs completions within a batch)")

    @classmethod
    def from_config(
        cls, method_config: Mapping[str, Any], common: Mapping[str, Any], seed: int, method: str | None = None
    ) -> PreferenceSettings:
        """From the shared ``training`` section (``common``) overridden by the method's section.

        The method is ``method`` or ``method_config["method"]``. ``lora`` is a nested mapping
        ``{r, alpha, dropout, target_modules}`` in either section; KTO's weights may be given as
        ``desirable_weight`` / ``undesirable_weight``. Keys that are not settings are ignored.
        """
        names = {f.name for f in fields(cls)} - {"method", "seed"}
        aliases = {"desirable_weight": "kto_desirable_weight", "undesirable_weight": "kto_undesirable_weight"}
        values: dict[str, Any] = {}
        for section in (common, method_config):
            for key, value in section.items():
                key = aliases.get(key, key)
                if key in names:
                    values[key] = value
            for key in ("r", "alpha", "dropout", "target_modules"):
                if key in section.get("lora", {}):
                    values[f"lora_{key}"] = section["lora"][key]
        chosen = method or method_config.get("method")
        if chosen is None:
            raise ValueError("no preference method: pass method= or set method_config['method']")
        return cls(method=chosen, seed=seed, **values)


def render_prompt(prompt: str, tokenizer=None, chat_template: bool = False) -> str:
    """The prompt text the trainer sees: as is, or as a user turn with the generation prompt."""
    if not chat_template:
        return prompt
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )


def trainer_rows(
    pairs: Sequence[Mapping[str, Any]], method: str, seed: int = 0, kto_conflicts: str = "keep"
) -> list[dict[str, Any]]:
    """The rows the method's trainer takes (pure).

    Pairwise methods: ``{prompt, chosen, rejected}``. KTO: the unpaired conversion, shuffled with
    the seed, because KTOTrainer reads the data in order and estimates its KL term from the
    completions of the *other* rows of a batch: a batch holding only the chosen and rejected answer
    of one prompt would make that estimate a matched log-ratio.
    """
    if method == "kto":
        rows = [{k: r[k] for k in ("prompt", "completion", "label")} for r in kto_rows(pairs, kto_conflicts)]
        random.Random(f"{seed}:kto-order").shuffle(rows)
        return rows
    return [{"prompt": p["prompt"], "chosen": p["chosen"], "rejected": p["rejected"]} for p in pairs]


def tokenize_pair(tokenizer, prompt: str, chosen: str, rejected: str) -> dict[str, list[int]]:
    """``{prompt_ids, chosen_ids, rejected_ids}`` as DPOTrainer tokenizes plain-text data: EOS
    appended to each completion, the completion starting where the tokenised prompt and
    prompt + completion diverge."""
    eos = tokenizer.eos_token
    chosen = chosen if chosen.endswith(eos) else chosen + eos
    rejected = rejected if rejected.endswith(eos) else rejected + eos
    prompt_ids = tokenizer(prompt)["input_ids"]
    with_chosen = tokenizer(prompt + chosen)["input_ids"]
    with_rejected = tokenizer(prompt + rejected)["input_ids"]
    n = min(common_prefix_length(prompt_ids, with_chosen), common_prefix_length(prompt_ids, with_rejected))
    return {"prompt_ids": prompt_ids[:n], "chosen_ids": with_chosen[n:], "rejected_ids": with_rejected[n:]}


def dev_summary(scores: Sequence[Mapping[str, Any]], beta: float) -> dict[str, Any]:
    """Per-epoch dev metrics from per-pair log-probabilities (pure).

    reward accuracy / margin use the implicit reward ``beta * (log pi - log ref)``; the logp
    accuracy compares policy log-probabilities alone (CPO's implicit ranking).
    """
    import torch

    def col(name, rows):
        return torch.tensor([float(r[name]) for r in rows], dtype=torch.float64)

    def accuracy(rows):
        if not rows:
            return None
        return reward_accuracy(
            implicit_rewards(col("policy_chosen", rows), col("ref_chosen", rows), beta),
            implicit_rewards(col("policy_rejected", rows), col("ref_rejected", rows), beta),
        )

    if not scores:
        raise ValueError("no dev pairs scored")
    chosen = implicit_rewards(col("policy_chosen", scores), col("ref_chosen", scores), beta)
    rejected = implicit_rewards(col("policy_rejected", scores), col("ref_rejected", scores), beta)
    return {
        "dev_reward_accuracy": reward_accuracy(chosen, rejected),
        "dev_reward_margin": (chosen - rejected).mean().item(),
        "dev_logp_accuracy": reward_accuracy(col("policy_chosen", scores), col("policy_rejected", scores)),
        "dev_reward_accuracy_general": accuracy([s for s in scores if s.get("source") == "general"]),
        "dev_reward_accuracy_atomic": accuracy([s for s in scores if s.get("source") == "atomic"]),
        "n_dev_pairs": len(scores),
    }


def score_pairs(
    model, tokenizer, pairs: Sequence[Mapping[str, Any]], beta: float, max_length: int | None, batch_size: int
) -> list[dict[str, Any]]:
    """Shell: policy and reference (adapter disabled) log-probabilities of each pair's chosen and
    rejected completion, tokenised and truncated as DPOTrainer does."""
    import torch
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    collator = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id, max_length=max_length)
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        batch = collator([tokenize_pair(tokenizer, p["prompt"], p["chosen"], p["rejected"]) for p in chunk])
        batch = {k: v.to(device) for k, v in batch.items()}

        def logps(batch=batch):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
            return sequence_logps(logits, batch["input_ids"], batch["completion_mask"])

        with torch.no_grad():
            policy = logps()
            with model.disable_adapter():
                ref = logps()
        lengths = batch["completion_mask"].sum(dim=1)
        n = len(chunk)
        for i, pair in enumerate(chunk):
            row = {
                "pair_id": pair.get("pair_id") or f"dev-{start + i}",
                "source": pair.get("source"),
                "policy_chosen": policy[i].item(),
                "policy_rejected": policy[n + i].item(),
                "ref_chosen": ref[i].item(),
                "ref_rejected": ref[n + i].item(),
                "chosen_tokens": int(lengths[i]),
                "rejected_tokens": int(lengths[n + i]),
            }
            row["reward_margin"] = beta * (
                (row["policy_chosen"] - row["ref_chosen"]) - (row["policy_rejected"] - row["ref_rejected"])
            )
            out.append(row)
    return out


def _log_step_loss(state, logs) -> None:
    if logs and "loss" in logs:
        log.info(
            "step %d/%d (epoch %.2f): loss %.4f",
            state.global_step,
            state.max_steps,
            logs.get("epoch", 0.0),
            float(logs["loss"]),
        )


def _in_eval_mode(model, evaluate: Callable[[], Any]) -> Any:
    """``evaluate()`` with the model in eval mode, then back to training mode if it was in it."""
    was_training = model.training
    model.eval()
    result = evaluate()
    if was_training:
        model.train()
    return result


def _epoch_losses(state, epoch: int) -> list[float]:
    """The training losses logged during ``epoch``."""
    return [h["loss"] for h in state.log_history if "loss" in h and math.ceil(h.get("epoch", 0) - 1e-9) == epoch]


def make_dev_callback(run_dir: Path, tokenizer, dev_pairs: Sequence[Mapping[str, Any]], settings: PreferenceSettings):
    """``factgap.train.make_epoch_callback`` for preference tuning: the epoch record holds dev reward
    accuracy and margins (``dev_summary``) instead of exact match."""
    from transformers import TrainerCallback

    class EpochDevRewards(TrainerCallback):
        """Dev reward accuracy at the end of every epoch, saved before the epoch's checkpoint."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            _log_step_loss(state, logs)

        def on_epoch_end(self, args, state, control, model=None, **kwargs):
            epoch = int(round(state.epoch))
            scores = _in_eval_mode(
                model,
                lambda: score_pairs(
                    model, tokenizer, dev_pairs, settings.beta, settings.max_length, settings.eval_batch_size
                ),
            )
            if not state.is_world_process_zero:
                return
            losses = _epoch_losses(state, epoch)
            record = {
                "method": settings.method,
                "epoch": epoch,
                "global_step": state.global_step,
                "train_loss": losses[-1] if losses else None,
                "train_loss_mean": sum(losses) / len(losses) if losses else None,
                **dev_summary(scores, settings.beta),
                "dev": scores,
            }
            write_json(record, _epoch_file(run_dir, epoch))
            log.info(
                "epoch %d (step %d): dev reward accuracy %.3f, margin %.4f",
                epoch,
                state.global_step,
                record["dev_reward_accuracy"],
                record["dev_reward_margin"],
            )

    return EpochDevRewards()


def _build_trainer(settings: PreferenceSettings, model, tokenizer, dataset, output_dir: Path, callbacks: list):
    """The TRL trainer for the method, with the shared training arguments."""
    import torch

    use_cuda = torch.cuda.is_available()
    common = dict(
        output_dir=str(output_dir),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=float(settings.warmup_ratio),
        max_length=settings.max_length,
        beta=settings.beta,
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
        disable_tqdm=True,
    )
    peft_config = lora_config(settings)
    if settings.method not in TRAINER_BUILDERS:
        raise ValueError(f"preference method {settings.method!r} has no trainer; known: {', '.join(TRAINER_BUILDERS)}")
    config_class, trainer_class, extra = TRAINER_BUILDERS[settings.method](settings)
    return trainer_class(
        model=model,
        args=config_class(**common, **extra),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )


def _dpo_family(settings: PreferenceSettings):
    from trl import DPOConfig, DPOTrainer

    return DPOConfig, DPOTrainer, {"loss_type": list(DPO_LOSS_TYPES[settings.method])}


def _kto(settings: PreferenceSettings):
    from trl import KTOConfig, KTOTrainer

    return (
        KTOConfig,
        KTOTrainer,
        {"desirable_weight": settings.kto_desirable_weight, "undesirable_weight": settings.kto_undesirable_weight},
    )


def _cpo(settings: PreferenceSettings):
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    return CPOConfig, CPOTrainer, {"loss_type": "sigmoid", "cpo_alpha": settings.cpo_alpha}


# method -> (TRL config class, trainer class, method-specific arguments); an unknown method is an error
TRAINER_BUILDERS = {**{method: _dpo_family for method in DPO_LOSS_TYPES}, "kto": _kto, "cpo": _cpo}


def train_preference(
    manifest: Mapping[str, Any],
    pairs_rows: Sequence[Mapping[str, Any]],
    dev_pairs_rows: Sequence[Mapping[str, Any]],
    settings: PreferenceSettings,
    run_dir: str | os.PathLike,
    early_stop_dir: str | os.PathLike,
    convergence_dir: str | os.PathLike,
    history_path: str | os.PathLike,
    *,
    dev_scores_path: str | os.PathLike | None = None,
    callbacks: Sequence = (),
) -> dict:
    """Shell: train (resuming from the last checkpoint if any), then export the two adapters.

    ``pairs_rows`` / ``dev_pairs_rows``: pair records ``{prompt, chosen, rejected, source,
    pair_id}`` (for RSO, the rejection-sampled pairs). ``callbacks``: extra TrainerCallbacks.
    """
    from datasets import Dataset

    from factgap.models import load_tokenizer

    if not pairs_rows:
        raise ValueError(
            "no training pairs (no prompt has responses whose scores differ by more than "
            "the threshold, and no potentially-known fact)"
        )
    if not dev_pairs_rows:
        raise ValueError("no dev pairs: early stopping selects on dev reward accuracy")
    run_dir = Path(run_dir)
    checkpoint_dir = start_run_dir(
        run_dir,
        {"manifest": manifest, "pairs": list(pairs_rows), "dev": list(dev_pairs_rows), "settings": asdict(settings)},
    )
    tokenizer = load_tokenizer(manifest)

    def rendered(rows):
        return [{**r, "prompt": render_prompt(r["prompt"], tokenizer, settings.chat_template)} for r in rows]

    rows = trainer_rows(rendered(pairs_rows), settings.method, settings.seed, settings.kto_conflicts)
    if not rows:
        raise ValueError(
            f"no training rows left for {settings.method} (KTO conflicts policy "
            f"{settings.kto_conflicts!r} dropped every completion?)"
        )
    model = load_trainable_model(manifest)
    dev_callback = make_dev_callback(run_dir, load_tokenizer(manifest), rendered(dev_pairs_rows), settings)
    trainer = _build_trainer(
        settings, model, tokenizer, Dataset.from_list(rows), checkpoint_dir, [dev_callback, *callbacks]
    )
    is_main, last = train_resuming(trainer, checkpoint_dir)
    if not is_main:
        return {}
    result = export_preference_run(
        run_dir, settings.epochs, early_stop_dir, convergence_dir, history_path, dev_scores_path
    )
    return {**result, "resumed_from": last, "n_train_rows": len(rows)}


def export_preference_run(
    run_dir: str | os.PathLike, epochs: int, early_stop_dir, convergence_dir, history_path, dev_scores_path=None
) -> dict:
    """Select the early-stop and convergence epochs, copy their adapters, write the history."""
    run_dir = Path(run_dir)
    records = load_epoch_records(run_dir, epochs)
    early, last = export_adapters(run_dir, records, "dev_reward_accuracy", early_stop_dir, convergence_dir)
    history = [
        {
            **{f.name: r.get(f.name) for f in HISTORY_SCHEMA},
            "is_early_stop": r["epoch"] == early,
            "is_convergence": r["epoch"] == last,
        }
        for r in records
    ]
    write_parquet(pa.Table.from_pylist(history, schema=HISTORY_SCHEMA), history_path)
    if dev_scores_path is not None:
        scores = [
            {f.name: ({**s, "epoch": r["epoch"]}).get(f.name) for f in DEV_SCORES_SCHEMA}
            for r in records
            for s in r["dev"]
        ]
        write_parquet(pa.Table.from_pylist(scores, schema=DEV_SCORES_SCHEMA), dev_scores_path)
    log.info(
        "early-stop epoch %d (dev reward accuracy %.3f), convergence epoch %d (%.3f)",
        early,
        records[early - 1]["dev_reward_accuracy"],
        last,
        records[last - 1]["dev_reward_accuracy"],
    )
    return {"early_stop_epoch": early, "convergence_epoch": last}


def train_preference_files(
    manifest_path,
    pairs_path,
    dev_pairs_path,
    settings: PreferenceSettings,
    run_dir,
    early_stop_dir,
    convergence_dir,
    history_path,
    dev_scores_path=None,
) -> dict:
    """Shell of ``train_preference`` over parquet pair files."""
    import pyarrow.parquet as pq

    from factgap.io import read_json

    return train_preference(
        read_json(manifest_path),
        pq.read_table(pairs_path).to_pylist(),
        pq.read_table(dev_pairs_path).to_pylist(),
        settings,
        run_dir,
        early_stop_dir,
        convergence_dir,
        history_path,
        dev_scores_path=dev_scores_path,
    )
