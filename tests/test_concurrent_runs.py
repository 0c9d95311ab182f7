"""Two Snakemake runs on one results folder: Snakemake locks the files a run reads and writes, so a
second run that needs any of them (the same target, as two `make demo`s) is refused while the first
holds the lock, and the first finishes with intact outputs. (A run on disjoint files may proceed:
it cannot corrupt the first.)"""

import json
import os
import subprocess
import time

from conftest import REPO, SNAKEMAKE


def test_second_concurrent_run_is_refused_and_the_first_finishes(tmp_path):
    config = str(REPO / "tests" / "configs" / "tiny.yaml")
    target = "results/models/smollm2-135m/model.json"
    base = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen(
        [*base, target, "--configfile", config],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    locks = tmp_path / ".snakemake" / "locks"
    deadline = time.time() + 120
    while not (locks.is_dir() and any(locks.iterdir())) and first.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert first.poll() is None, "the first run ended before it could be raced"
    second = subprocess.run(
        [*base, target, "--configfile", config], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert second.returncode != 0
    assert "cannot be locked" in second.stdout + second.stderr
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-3000:]
    manifest = json.loads((tmp_path / target).read_text())
    assert manifest["source"] == "gguf"
    assert not locks.exists() or not any(locks.iterdir())  # the lock is released
