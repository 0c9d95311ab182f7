"""End-to-end tests on a real single-node SLURM (scripts/slurm/local_cluster.sh).

Run:  .venv/bin/pytest -m slurm tests/test_slurm.py      (root; installs Debian's slurm if missing)
Skip: .venv/bin/pytest -m "not slurm"

The session fixture starts the cluster (2 fake A100s, 4 advertised CPUs so that controller jobs
and rule jobs fit side by side on a 2-core machine) and stops it at the end if it started it.
Each SLURM job costs ~10-15 s here (jobstep start-up + status polling): keep the workflows tiny.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.xdist_group("slurm")]

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SH = REPO / "scripts" / "slurm" / "local_cluster.sh"
SUBMIT = REPO / "scripts" / "submit_run.py"
PROFILES = ["--profile", str(REPO / "profiles" / "slurm"), "--profile", str(REPO / "profiles" / "slurm-test")]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
RUNTIME_RE = re.compile(r"runtime: host=(\S+) slurm_job_id=(\S+) cuda_visible_devices=(\S+) threads=(\d+)")


def gpu_rules() -> set[str]:
    """Rules that profiles/slurm gives a GPU."""
    prof = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    return {rule for rule, res in prof["set-resources"].items() if res.get("gpu")}


def runtime_of(log: Path) -> dict[str, str]:
    for line in log.read_text().splitlines():
        m = RUNTIME_RE.search(line)
        if m:
            return dict(zip(["host", "slurm_job_id", "cuda_visible_devices", "threads"], m.groups()))
    raise AssertionError(f"no runtime line in {log}:\n{log.read_text()[:2000]}")


def scontrol_job(job_id: str) -> str:
    return subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (apt-get, munged, slurmd)")
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        pytest.skip("no slurm installed and no apt-get to install it")
    already_up = subprocess.run(["bash", str(CLUSTER_SH), "status"], capture_output=True).returncode == 0
    t0 = time.monotonic()
    env = {**os.environ, "FACTGAP_SLURM_CPUS": os.environ.get("FACTGAP_SLURM_CPUS", "4")}
    up = subprocess.run(["bash", str(CLUSTER_SH), "up"], capture_output=True, text=True, env=env)
    if up.returncode == 3:
        pytest.skip(f"cannot install slurm: {up.stderr.strip()[-500:]}")
    assert up.returncode == 0, f"local_cluster.sh up failed ({up.returncode}):\n{up.stderr}"
    print(f"\nlocal SLURM up in {time.monotonic() - t0:.1f} s (already up: {already_up})")
    yield
    if not already_up:
        subprocess.run(["bash", str(CLUSTER_SH), "down"], check=False)


def node_cpus() -> int:
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%c"], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


WORKFLOW = textwrap.dedent("""\
    import sys
    PY = sys.executable
    RUNTIME = PY + " -c 'from factgap.runtime import runtime_line; print(runtime_line({threads}))' > {log} 2>&1"
    RESULTS = config.get("results_dir", "results")
    SLEEP = config.get("sleep", 0)

    rule all:
        input: expand(RESULTS + "/eval_{name}.txt", name=["a", "b"])

    rule build_training_set:
        output: RESULTS + "/train.txt"
        log: RESULTS + "/logs/build_training_set.log"
        threads: 1
        shell: RUNTIME + "; echo seed=" + str(config.get("seed", "-")) + " > {output}"

    rule probe_knowledge:
        input: RESULTS + "/train.txt"
        output: RESULTS + "/probe.txt"
        log: RESULTS + "/logs/probe_knowledge.log"
        threads: 1
        shell: RUNTIME + "; sleep " + str(SLEEP) + "; cat {input} > {output}"

    rule evaluate_model:
        input: RESULTS + "/probe.txt"
        output: RESULTS + "/eval_{name}.txt"
        log: RESULTS + "/logs/evaluate_model_{name}.log"
        threads: 1
        shell: RUNTIME + "; cat {input} > {output}"
""")


def write_workflow(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Snakefile").write_text(WORKFLOW)
    return path


def test_a_gpu_rules_get_their_own_slurm_job_and_a_gpu(slurm_cluster, tmp_path):
    wd = write_workflow(tmp_path / "wf")
    t0 = time.monotonic()
    run = subprocess.run([*SNAKEMAKE, *PROFILES], cwd=wd, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - t0
    assert run.returncode == 0, run.stderr[-4000:]
    print(f"\n4 SLURM jobs (1 CPU, 3 GPU; 3 levels) in {elapsed:.1f} s")
    logs = {p.stem: runtime_of(p) for p in (wd / "results" / "logs").glob("*.log")}
    assert set(logs) == {"build_training_set", "probe_knowledge", "evaluate_model_a", "evaluate_model_b"}
    ids = [r["slurm_job_id"] for r in logs.values()]
    assert "-" not in ids and len(set(ids)) == len(ids), logs  # each job its own SLURM job
    for name, rt in logs.items():
        job = scontrol_job(rt["slurm_job_id"])
        gpu_request = re.findall(r"(?:TresPerJob|TresPerNode|TRES)=(\S*gpu\S*)", job)
        if name == "build_training_set":
            assert rt["cuda_visible_devices"] == "-", rt
            assert not gpu_request, job  # the CPU rule did not ask for a GPU
        else:
            assert rt["cuda_visible_devices"] not in ("-", ""), rt
            assert gpu_request and "a100" in gpu_request[0], job
        assert "Partition=debug" in job and "Account=factgap" in job, job


def test_a2_retry_gets_more_memory_and_time(slurm_cluster, tmp_path):
    """--retries resubmits a failed job; mem_mb/runtime in the profile grow with `attempt`."""
    wd = tmp_path / "retry"
    wd.mkdir()
    (wd / "Snakefile").write_text(
        textwrap.dedent("""\
        rule train_lora:
            output: "out.txt"
            shell: "echo $SLURM_JOB_ID {resources.mem_mb} {resources.runtime} >> attempts.txt; test {resources.mem_mb} -gt 3000; touch {output}"
    """)
    )
    run = subprocess.run([*SNAKEMAKE, *PROFILES, "--retries", "1"], cwd=wd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    attempts = [line.split() for line in (wd / "attempts.txt").read_text().splitlines()]
    assert [a[1:] for a in attempts] == [["3000", "30"], ["6000", "60"]]
    assert "TimeLimit=01:00:00" in scontrol_job(attempts[1][0])


def test_b_tiny_config_gpu_rules_on_slurm(slurm_cluster, tmp_path):
    tiny = REPO / "tests" / "configs" / "slurm.yaml"
    snakefile = next((p for p in (REPO / "Snakefile", REPO / "workflow" / "Snakefile") if p.exists()), None)
    if not tiny.exists() or snakefile is None:
        pytest.skip("tests/configs/slurm.yaml or the workflow's Snakefile does not exist yet")
    # run from a scratch directory, so that the run neither reuses nor clobbers the repo's results/
    wd = tmp_path / "run"
    wd.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    dry = subprocess.run(
        [*SNAKEMAKE, "-s", str(snakefile), "--directory", str(wd), "-n", "--cores", "1", "--configfile", str(tiny)],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if dry.returncode != 0:  # the workflow's own tests report this; here it only blocks the SLURM check
        pytest.skip(f"the workflow does not dry-run with slurm.yaml: {dry.stderr.strip()[-600:]}")
    run = subprocess.run(
        [*SNAKEMAKE, "-s", str(snakefile), "--directory", str(wd), *PROFILES, "--configfile", str(tiny)],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-6000:]
    logs = [p for p in (wd / "results" / "logs").rglob("*") if p.is_file()]
    gpu = gpu_rules()
    checked = 0
    for log in logs:
        rel = str(log.relative_to(wd / "results" / "logs"))
        rule = next((r for r in gpu if r in rel), None)
        if rule is None:
            continue
        rt = runtime_of(log)
        assert rt["slurm_job_id"] != "-", (rel, rt)
        assert rt["cuda_visible_devices"] not in ("-", ""), (rel, rt)
        checked += 1
    assert checked, f"no log of a GPU rule ({sorted(gpu)}) among {logs}"
    seen = {r for r in gpu for log in logs if r in str(log)}
    assert {"probe_knowledge", "train_lora", "write_cot_rationales", "evaluate_model"} <= seen, seen
    job_ids = [runtime_of(log)["slurm_job_id"] for log in logs if any(r in str(log) for r in gpu)]
    assert len(set(job_ids)) == len(job_ids)  # one SLURM job per GPU job
    assert (wd / "results" / "figures" / "s2_factuality_gap.png").exists()
    assert (wd / "results" / "tables" / "s2_factuality_gap.csv").read_text().count("\n") > 1


def _submit(wd: Path, *extra: str) -> tuple[str, subprocess.CompletedProcess]:
    run = subprocess.run(
        [
            sys.executable,
            str(SUBMIT),
            "--directory",
            str(wd),
            *PROFILES,
            "--folder",
            str(wd / "submitit" / "%j"),
            "--time-min",
            "30",
            "--cpus",
            "1",
            "--mem-gb",
            "1",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    ids = re.findall(r"^submitted (\S+):", run.stdout, flags=re.M)
    return (ids[0] if ids else ""), run


def test_c_controller_job_killed_and_resubmitted(slurm_cluster, tmp_path):
    wd = write_workflow(tmp_path / "ctl")
    (wd / "slow.yaml").write_text("sleep: 25\n")
    job_id, run = _submit(wd, "--configfile", str(wd / "slow.yaml"))
    assert run.returncode == 0 and job_id, run.stderr
    probe_log = wd / "results" / "logs" / "probe_knowledge.log"
    deadline = time.monotonic() + 180
    while not probe_log.exists() and time.monotonic() < deadline:
        time.sleep(1)
    assert probe_log.exists(), (wd / "submitit" / job_id / f"{job_id}_0_log.err").read_text()[-3000:]
    time.sleep(2)
    train = wd / "results" / "train.txt"
    train_mtime = train.stat().st_mtime_ns
    subprocess.run(["scancel", job_id], check=True)  # kill the controller while probe_knowledge runs
    time.sleep(3)
    assert not (wd / "results" / "eval_a.txt").exists()

    job2, run2 = _submit(wd, "--configfile", str(wd / "slow.yaml"), "--unlock", "--wait", "--wait-previous-min", "5")
    err = (wd / "submitit" / job2 / f"{job2}_0_log.err").read_text() if job2 else ""
    assert run2.returncode == 0, run2.stdout + run2.stderr + err[-4000:]
    assert (wd / "results" / "eval_b.txt").read_text() == "seed=-\n"
    assert train.stat().st_mtime_ns == train_mtime  # finished before the kill: not redone
    # probe_knowledge ran once: the new controller waited for the killed one's job instead of redoing it
    out = (wd / "submitit" / job2 / f"{job2}_0_log.out").read_text()
    assert "waiting for 1 job(s) of the previous controller" in out or "probe_knowledge" not in err, out
    assert "rule probe_knowledge" not in err and "rule build_training_set" not in err, err[-4000:]


def test_c2_seed_sweep_as_job_array(slurm_cluster, tmp_path):
    if node_cpus() < 4:
        pytest.skip(
            "the seed sweep needs 4 SLURM CPUs (2 controllers + their rule jobs); "
            "start the cluster with FACTGAP_SLURM_CPUS=4"
        )
    wd = write_workflow(tmp_path / "sweep")
    job_id, run = _submit(wd, "--seeds", "0", "1", "--results-key", "results_dir", "--wait")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^submitted \d+_0:", run.stdout, flags=re.M), run.stdout  # one array
    for seed in (0, 1):
        out = wd / "results" / f"seed-{seed}"
        assert (out / "eval_a.txt").read_text() == f"seed={seed}\n"
        assert runtime_of(out / "logs" / "evaluate_model_a.log")["cuda_visible_devices"] != "-"
