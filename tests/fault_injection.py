"""Fault injection: SIGKILL the first job of each heavy rule at a random point of its run, rerun the
workflow, and compare its outputs with those of an uninterrupted run of the same config."""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
from conftest import REPO, SNAKEMAKE, run_snakemake

# Folders a job keeps between attempts on purpose: training checkpoints (resume) and the model copy
RESUMABLE_PARTS = ("/run/", "/models/")


def shortest_job_seconds(results: Path, rule: str) -> float:
    """Wall-clock of the rule's shortest job in the uninterrupted run (its benchmark files): a kill at a
    fraction of it lands inside whichever of the rule's jobs starts first."""
    seconds = []
    for path in (results / "benchmarks" / rule).rglob("*.tsv"):
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        seconds += [float(rows[-1]["s"])] if rows else []
    assert seconds, f"no benchmark file of rule {rule} in the uninterrupted run"
    return min(seconds)


def _job_processes(root: psutil.Process, script: str) -> list[psutil.Process]:
    """Running jobs of the rule whose script is ``script`` (Snakemake runs a copy named tmpXXXX.<script>)."""
    found = []
    for child in root.children(recursive=True):
        try:
            if any(arg.endswith(f".{script}") for arg in child.cmdline()):
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def run_killing_jobs(
    args: list[str], cwd: Path, scripts: dict[str, str], delays: dict[str, float], timeout: float = 3600
) -> tuple[subprocess.CompletedProcess, dict[str, float]]:
    """Run Snakemake (``--keep-going``) and SIGKILL the first job of each rule in ``scripts`` (rule -> script
    file) ``delays[rule]`` seconds after it started. Returns the finished run and the rules killed, with the
    second at which each was killed."""
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(cwd), "--keep-going", *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    log = open(cwd / "killed-run.log", "a")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    root = psutil.Process(proc.pid)
    started: dict[str, tuple[psutil.Process, float]] = {}
    killed: dict[str, float] = {}
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        now = time.time()
        for rule, script in scripts.items():
            if rule in killed:
                continue
            if rule not in started:
                jobs = _job_processes(root, script)
                if jobs:
                    started[rule] = (jobs[0], now)
            elif now - started[rule][1] >= delays[rule]:
                job, at = started.pop(rule)
                try:
                    job.send_signal(signal.SIGKILL)
                    killed[rule] = round(now - at, 2)
                except psutil.NoSuchProcess:
                    pass  # it finished first: the rule's next job is the candidate
        time.sleep(0.05)
    proc.wait(timeout=max(1, deadline - time.time()))
    log.close()
    output = (cwd / "killed-run.log").read_text()
    return subprocess.CompletedProcess(cmd, proc.returncode, output, ""), killed


def _result_files(results: Path):
    for path in results.rglob("*"):
        if path.is_file() and not any(part in f"/{path.relative_to(results.parent)}" for part in RESUMABLE_PARTS):
            yield path


def partial_files(results: Path) -> list[str]:
    """Files at an output's name that do not read in full (parquet files whose footer is missing)."""
    bad = []
    for path in _result_files(results):
        if path.suffix == ".parquet":
            try:
                pq.read_metadata(path)
            except Exception as error:  # noqa: BLE001 - any read failure is a partial file
                bad.append(f"{path.relative_to(results)} ({type(error).__name__})")
    return bad


def temporary_files(results: Path) -> list[str]:
    """Hidden temporaries of atomic writes (``.<name>.<random>.tmp``): a kill during a write leaves one; the
    next write of the same output removes it."""
    return [str(p.relative_to(results)) for p in _result_files(results) if p.name.endswith(".tmp")]


def differing_parquet(results: Path, reference: Path) -> list[str]:
    """Parquet outputs present in both runs whose bytes differ (benchmarks, logs and models excluded)."""
    differ = []
    for path in sorted(reference.rglob("*.parquet")):
        rel = path.relative_to(reference)
        if rel.parts[0] in ("models", "benchmarks", "logs") or "/run/" in f"/{rel}":
            continue
        other = results / rel
        assert other.exists(), f"{rel} is missing after the rerun"
        if other.read_bytes() != path.read_bytes():
            differ.append(str(rel))
    return differ


def kill_and_rerun(reference_workdir: Path, workdir: Path, args: list[str], scripts: dict[str, str], seed: int):
    """The fault-injection experiment against the uninterrupted run in ``reference_workdir``: runs that
    each lose the first job of every rule in ``scripts`` not yet hit to SIGKILL, at a seeded random point
    of that rule's shortest job in the uninterrupted run (a killed upstream job stops its downstream rules, so it takes several
    runs), then a plain rerun. No output may be left half-written, after any kill or the rerun. Returns
    (killed rules with seconds, temporaries the kills left, parquet files that differ from the
    uninterrupted run)."""
    rng = random.Random(seed)
    reference = reference_workdir / "results"
    delays = {rule: rng.uniform(0.1, 0.6) * shortest_job_seconds(reference, rule) for rule in sorted(scripts)}
    # the prepared model is an input, not under test: share it to save its conversion
    shutil.copytree(reference / "models", workdir / "results" / "models")
    killed: dict[str, float] = {}
    left_by_kills: list[str] = []
    for _ in scripts:
        remaining = {rule: script for rule, script in scripts.items() if rule not in killed}
        if not remaining:
            break
        run, newly_killed = run_killing_jobs(args, workdir, remaining, delays)
        killed.update(newly_killed)
        assert partial_files(workdir / "results") == [], run.stdout[-3000:]
        left_by_kills += temporary_files(workdir / "results")
        if run.returncode == 0 or not newly_killed:
            break  # the run finished (or nothing was killed): what is left was not killable here
    run_snakemake(*args, cwd=workdir, timeout=3600)
    assert partial_files(workdir / "results") == [] and temporary_files(workdir / "results") == []
    return killed, left_by_kills, differing_parquet(workdir / "results", reference)
