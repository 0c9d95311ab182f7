"""A training job killed mid-run continues from its last checkpoint when rerun."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

from factgap.io import write_parquet
from factgap.splits import TRAIN_SCHEMA

SCRIPT = """
import sys, logging
logging.basicConfig(level=logging.INFO)
import torch; torch.set_num_threads(1)
from factgap.train import TrainSettings, train_lora_files
d = sys.argv[1]
s = TrainSettings(epochs=int(sys.argv[3]), learning_rate=1e-3, batch_size=4, eval_batch_size=64, max_new_tokens=4,
                  lora_r=4, lora_alpha=8, lora_dropout=0.0, seed=0)
train_lora_files(sys.argv[2], d + '/train.parquet', d + '/dev.parquet', s, d + '/run', d + '/early_stop',
                 d + '/convergence', d + '/history.parquet', d + '/summary.parquet')
"""


def _data(tmp_path: Path, n: int) -> None:
    rows = [
        {
            "id": f"q{i:03d}",
            "relation": "P17",
            "subject": f"city{i}",
            "question": f"Which country is city{i} in?",
            "answers": [f"Country{i % 7}"],
            "target": f"Country{i % 7}",
            "category": "Unknown",
            "knowledge": "unknown",
        }
        for i in range(n)
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=TRAIN_SCHEMA), tmp_path / "train.parquet")
    dev = [{k: r[k] for k in ("id", "relation", "subject", "question", "answers")} for r in rows[:16]]
    write_parquet(pa.Table.from_pylist(dev), tmp_path / "dev.parquet")


def _start(tmp_path, manifest, epochs):
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(manifest), str(epochs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_killed_training_resumes_from_last_checkpoint(tmp_path, tiny_llama):
    _data(tmp_path, 160)
    epochs = 3
    proc = _start(tmp_path, tiny_llama, epochs)
    first_epoch = tmp_path / "run" / "epochs" / "epoch_001.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        checkpoints = list((tmp_path / "run" / "checkpoints").glob("checkpoint-*/trainer_state.json"))
        if checkpoints and first_epoch.exists():
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; make the test data larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("checkpoint-*"))
    assert done_before and not (tmp_path / "summary.parquet").exists()
    first_epoch_mtime = first_epoch.stat().st_mtime_ns

    rerun = _start(tmp_path, tiny_llama, epochs)
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out[-4000:]
    assert "resuming from" in out and done_before[-1] in out
    assert first_epoch.stat().st_mtime_ns == first_epoch_mtime  # epoch 1 not trained again
    import pyarrow.parquet as pq

    summary = pq.read_table(tmp_path / "summary.parquet").to_pylist()
    assert [r["epoch"] for r in summary] == list(range(1, epochs + 1))
    steps = [r["global_step"] for r in summary]
    assert steps == sorted(steps) and steps[-1] == epochs * steps[0]
    assert (tmp_path / "convergence" / "adapter_model.safetensors").exists()
    history = pq.read_table(tmp_path / "history.parquet")
    assert set(history.column("eval_set").to_pylist()) == {"dev", "train"}


def test_a_checkpoint_saved_in_part_is_removed_and_the_last_complete_one_resumed(tmp_path):
    from factgap.train import CHECKPOINT_COMPLETE_MARKER, last_complete_checkpoint

    for step, complete in ((4, True), (8, True), (12, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "adapter_model.safetensors").write_bytes(b"x")
        if complete:
            (folder / CHECKPOINT_COMPLETE_MARKER).write_text("{}")
    (tmp_path / "checkpoint-notes").mkdir()  # not a checkpoint: left alone
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4", "checkpoint-8", "checkpoint-notes"]
    assert last_complete_checkpoint(tmp_path / "absent") is None


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    from factgap.io import write_parquet

    stale = tmp_path / ".table.parquet.abc123.tmp"
    stale.write_bytes(b"half a parquet file")
    other = tmp_path / ".other.parquet.abc123.tmp"
    other.write_bytes(b"another output's temporary file")
    write_parquet(pa.table({"x": [1, 2]}), tmp_path / "table.parquet")
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.parquet.abc123.tmp", "table.parquet"]
