"""Run the Snakemake controller itself as a (requeueable) SLURM job, alone or as a seed sweep.

The controller is one long-running, cheap job (a few CPUs, a few GB). With the slurm profile it
submits every rule job as its own SLURM job; with the local profile it runs the rules inside its
own allocation. It is a :class:`submitit.helpers.Checkpointable`: when SLURM signals a timeout
or a preemption, Snakemake is told to stop submitting (SIGTERM), the job is requeued, and the
next run of the controller unlocks the working directory and continues with
``--rerun-incomplete``: finished outputs are kept, interrupted ones are redone.

Pure helpers (:func:`snakemake_command`, :func:`seed_overlay`, :func:`write_seed_overlays`,
:func:`sweep_commands`) build command lines and files and are unit-tested; :func:`submit`
does the submission.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from factgap.seed_design import seed_root

log = logging.getLogger(__name__)

#: Profile used for each rule-job executor when no --profile is given (relative to the repo root).
DEFAULT_PROFILES: dict[str, list[str]] = {
    "slurm": ["profiles/slurm"],
    "local": ["profiles/local"],
}
#: Environment variables that profiles/slurm reads (its single place for site settings).
ENV_PARTITION = "FACTGAP_SLURM_PARTITION"
ENV_ACCOUNT = "FACTGAP_SLURM_ACCOUNT"
ENV_GPU_MODEL = "FACTGAP_SLURM_GPU_MODEL"


def snakemake_command(
    *,
    executor: str = "slurm",
    profiles: Sequence[str] | None = None,
    configfiles: Sequence[str | os.PathLike] = (),
    snakefile: str | os.PathLike | None = None,
    cores: int | None = None,
    targets: Sequence[str] = (),
    extra: Sequence[str] = (),
    python: str | None = None,
) -> list[str]:
    """The argument list that runs the Snakemake controller.

    ``executor`` picks the default profile (``profiles/<executor>``) and, for ``local``, sets
    ``--cores`` (inside a SLURM allocation ``cores: all`` would mean the whole node).
    ``--rerun-incomplete`` is always on so that a requeued controller picks up where it stopped.
    """
    if executor not in DEFAULT_PROFILES:
        raise ValueError(f"executor must be one of {sorted(DEFAULT_PROFILES)}, not {executor!r}")
    cmd = [python or sys.executable, "-m", "snakemake"]
    if snakefile:
        cmd += ["--snakefile", str(snakefile)]
    for profile in profiles if profiles else DEFAULT_PROFILES[executor]:
        cmd += ["--profile", str(profile)]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    if executor == "local":
        cmd += ["--executor", "local", "--cores", str(cores or 1)]
    else:
        cmd += ["--executor", "slurm"]
    cmd += ["--rerun-incomplete"]
    cmd += list(extra)
    cmd += list(targets)
    return with_jobname_prefix(cmd)[0]


def targets_complete(cmd: Sequence[str], workdir: str | os.PathLike, env: Mapping[str, str] | None = None) -> bool:
    """Whether a dry-run of the same invocation has nothing left to do (every target built)."""
    dry = [*cmd, "--dry-run", "--quiet", "--nolock"]
    proc = subprocess.run(
        dry, cwd=workdir, env=None if env is None else dict(env), capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr


def unlock_command(cmd: Sequence[str]) -> list[str]:
    """The same Snakemake invocation with ``--unlock`` (removes stale locks of a dead controller)."""
    return [*cmd, "--unlock"]


def seed_overlay(seed: int, results_key: str | None = None, results_base: str = "results") -> dict[str, Any]:
    """Config overlay for one seed of a sweep.

    Config values given with ``--config`` on the command line arrive as strings, so seeds go in a
    YAML overlay passed after the base ``--configfile``. With ``results_key`` each seed also gets
    its own results root (``<results_base>/seed-<n>``); without one, seeds share outputs and a
    sweep can only run them one after the other.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    overlay: dict[str, Any] = {"seed": seed}
    if results_key:
        overlay[results_key] = seed_root(results_base, seed)
    return overlay


def write_seed_overlays(
    seeds: Sequence[int],
    folder: str | os.PathLike,
    results_key: str | None = None,
    results_base: str = "results",
) -> list[Path]:
    """Write ``<folder>/seed-<n>.yaml`` for each seed; returns the paths (absolute)."""
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"duplicate seeds: {list(seeds)}")
    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = folder / f"seed-{seed}.yaml"
        text = "# written by factgap.cluster: per-seed config overlay\n" + yaml.safe_dump(
            seed_overlay(seed, results_key, results_base), sort_keys=True
        )
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths.append(path)
    return paths


def sweep_commands(
    seeds: Sequence[int],
    overlay_folder: str | os.PathLike,
    *,
    configfiles: Sequence[str | os.PathLike] = (),
    results_key: str | None = None,
    results_base: str = "results",
    **command_kwargs: Any,
) -> list[list[str]]:
    """One Snakemake command per seed: base config files, then that seed's overlay."""
    overlays = write_seed_overlays(seeds, overlay_folder, results_key, results_base)
    return [snakemake_command(configfiles=[*configfiles, overlay], **command_kwargs) for overlay in overlays]


def run_key(cmd: Sequence[str]) -> str:
    """A stable short id of one Snakemake invocation (ignores the Python path)."""
    return hashlib.sha1("\0".join(cmd[1:]).encode()).hexdigest()[:10]


def with_jobname_prefix(cmd: Sequence[str]) -> tuple[list[str], str | None]:
    """Give the rule jobs of a SLURM run a job-name prefix unique to this invocation.

    The plugin names every rule job ``<prefix>_<run uuid>``; a restarted controller finds the
    jobs its dead predecessor left in the queue by that prefix. Returns (command, prefix); the
    prefix is None when the rule jobs do not go to SLURM.
    """
    cmd = list(cmd)
    if "--slurm-jobname-prefix" in cmd:
        return cmd, cmd[cmd.index("--slurm-jobname-prefix") + 1]
    if not any(a == "slurm" and prev == "--executor" for prev, a in zip(cmd, cmd[1:])):
        return cmd, None
    prefix = f"factgap-{run_key(cmd)}"
    # before the targets/extra args would be safest, but options may come in any order
    return [*cmd[:3], "--slurm-jobname-prefix", prefix, *cmd[3:]], prefix


ACTIVE_STATES = "PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED,REQUEUED,RESIZING"


def queued_jobs(prefix: str) -> list[tuple[str, str]]:
    """(job id, state) of our user's SLURM jobs whose name starts with ``<prefix>_`` and are not over."""
    try:
        out = subprocess.run(
            ["squeue", "-h", "--me", "-t", ACTIVE_STATES, "-o", "%i %j %T"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("squeue failed (%s); not waiting for earlier jobs", exc)
        return []
    jobs = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].startswith(prefix + "_"):
            jobs.append((parts[0], parts[2]))
    return jobs


def settle_previous_jobs(prefix: str, timeout_s: float, poll_s: float = 10.0) -> list[tuple[str, str]]:
    """Cancel pending rule jobs of a dead controller and wait for its running ones to end.

    A running job that ends before the new controller starts leaves a complete output, which
    is then not redone; a job still running at the timeout is left alone (its output will be
    redone by the new controller). Returns the jobs still active at the end.
    """
    jobs = queued_jobs(prefix)
    pending = [j for j, state in jobs if state == "PENDING"]
    if pending:
        print(f"[factgap.cluster] cancelling pending jobs of the previous controller: {' '.join(pending)}", flush=True)
        subprocess.run(["scancel", *pending], check=False)
    deadline = time.monotonic() + timeout_s
    jobs = [j for j in queued_jobs(prefix) if j[0] not in pending]
    while jobs and time.monotonic() < deadline:
        print(
            f"[factgap.cluster] waiting for {len(jobs)} job(s) of the previous controller: "
            + " ".join(j for j, _ in jobs),
            flush=True,
        )
        time.sleep(poll_s)
        jobs = [j for j in queued_jobs(prefix) if j[0] not in pending]
    return jobs


def site_env(partition: str | None = None, account: str | None = None, gpu_model: str | None = None) -> dict[str, str]:
    """Environment for profiles/slurm (only the settings that were given)."""
    env = {}
    for key, value in ((ENV_PARTITION, partition), (ENV_ACCOUNT, account), (ENV_GPU_MODEL, gpu_model)):
        if value is not None:
            env[key] = value
    return env


def _import_submitit():
    try:
        import submitit
    except ImportError as exc:  # pragma: no cover - submitit is a project dependency
        raise SystemExit("submitit is not installed: pip install submitit") from exc
    return submitit


def _checkpointable_base():
    try:
        from submitit.helpers import Checkpointable
    except ImportError:  # pragma: no cover
        return object
    return Checkpointable


class SnakemakeController(_checkpointable_base()):
    """A callable that runs Snakemake in ``workdir``; requeued by submitit on timeout/preemption.

    Stdout and stderr of Snakemake go straight to the job's submitit log files.
    Raises ``RuntimeError`` when Snakemake fails, so the submitit job ends as failed.
    """

    def __init__(
        self,
        cmd: Sequence[str],
        workdir: str | os.PathLike,
        env: Mapping[str, str] | None = None,
        unlock: bool = False,
        restarts: int = 0,
        grace_s: float = 20.0,
        wait_previous_s: float = 12 * 3600,
        poll_s: float = 10.0,
    ) -> None:
        self.cmd, self.jobname_prefix = with_jobname_prefix(cmd)
        self.workdir = str(Path(workdir).absolute())
        self.env = dict(env or {})
        self.unlock = unlock
        self.restarts = restarts
        self.grace_s = grace_s
        self.wait_previous_s = wait_previous_s
        self.poll_s = poll_s
        self._proc: subprocess.Popen | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_proc"] = None  # a running process cannot be pickled (checkpoint)
        return state

    def _environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        return env

    def __call__(self) -> int:
        env = self._environ()
        restarted = self.restarts > 0 or env.get("SLURM_RESTART_COUNT", "0") not in ("", "0")
        print(
            f"[factgap.cluster] controller start: restarts={self.restarts} "
            f"slurm_restart_count={env.get('SLURM_RESTART_COUNT', '-')} cwd={self.workdir}",
            flush=True,
        )
        if (self.unlock or restarted) and self.jobname_prefix:
            left = settle_previous_jobs(self.jobname_prefix, self.wait_previous_s, self.poll_s)
            if left:
                print(
                    f"[factgap.cluster] {len(left)} earlier job(s) still running; their outputs will be redone",
                    flush=True,
                )
        if self.unlock or restarted:
            # A controller killed by timeout/preemption/scancel leaves .snakemake/locks behind.
            print("[factgap.cluster] unlocking: " + " ".join(unlock_command(self.cmd)), flush=True)
            subprocess.run(unlock_command(self.cmd), cwd=self.workdir, env=env, check=False)
        print("[factgap.cluster] running: " + " ".join(self.cmd), flush=True)
        self._proc = subprocess.Popen(self.cmd, cwd=self.workdir, env=env)
        rc = self._proc.wait()
        self._proc = None
        if rc != 0 and targets_complete(self.cmd, self.workdir, env):
            # Controllers of a seed array share one working directory. Snakemake 9 removes the whole
            # .snakemake/locks folder when a run ends (exists-then-rmtree); two runs ending at once race
            # there and the later one fails after all its work is done. What counts is the targets.
            print(f"[factgap.cluster] snakemake exited with {rc} but every target is complete", flush=True)
            return 0
        if rc != 0:
            raise RuntimeError(f"snakemake exited with status {rc} (see this job's log)")
        return rc

    def stop(self) -> None:
        """Ask Snakemake to stop submitting new jobs (SIGTERM = graceful), wait up to grace_s."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)

    def checkpoint(self, *args: Any, **kwargs: Any):
        """Called by submitit on timeout/preemption before the job is requeued."""
        import submitit

        print("[factgap.cluster] checkpoint: stopping snakemake, job will be requeued", flush=True)
        self.stop()
        return submitit.helpers.DelayedSubmission(
            SnakemakeController(
                self.cmd,
                self.workdir,
                self.env,
                unlock=True,
                restarts=self.restarts + 1,
                grace_s=self.grace_s,
                wait_previous_s=self.wait_previous_s,
                poll_s=self.poll_s,
            ),
            *args,
            **kwargs,
        )


@dataclasses.dataclass
class JobSpec:
    """Resources of the controller job itself (not of the rule jobs)."""

    time_min: int = 7 * 24 * 60
    cpus: int = 2
    mem_gb: int = 8
    gpus: int = 0
    partition: str | None = None
    account: str | None = None
    name: str = "factgap-snakemake"
    max_requeues: int = 3
    signal_delay_s: int = 120
    array_parallelism: int = 16


def make_executor(folder: str | os.PathLike, cluster: str | None, spec: JobSpec):
    """A submitit executor for the controller job(s). ``cluster``: slurm, local, debug or None (auto)."""
    submitit = _import_submitit()
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster, slurm_max_num_timeout=spec.max_requeues)
    params: dict[str, Any] = dict(
        timeout_min=spec.time_min,
        cpus_per_task=spec.cpus,
        mem_gb=spec.mem_gb,
        name=spec.name,
        tasks_per_node=1,
        nodes=1,
    )
    if spec.gpus:
        params["gpus_per_node"] = spec.gpus
    if executor.cluster == "slurm":
        params.update(
            slurm_signal_delay_s=spec.signal_delay_s,
            slurm_array_parallelism=spec.array_parallelism,
            stderr_to_stdout=False,
        )
        if spec.partition:
            params["slurm_partition"] = spec.partition
        if spec.account:
            params["slurm_account"] = spec.account
    executor.update_parameters(**params)
    return executor


def submit(
    commands: Sequence[Sequence[str]],
    *,
    workdir: str | os.PathLike,
    folder: str | os.PathLike,
    cluster: str | None = "slurm",
    spec: JobSpec | None = None,
    env: Mapping[str, str] | None = None,
    unlock: bool = False,
    wait_previous_s: float = 12 * 3600,
) -> list:
    """Submit one controller job per command; several commands go in one job array."""
    if not commands:
        raise ValueError("nothing to submit")
    spec = spec or JobSpec()
    executor = make_executor(folder, cluster, spec)
    controllers = [
        SnakemakeController(cmd, workdir, env, unlock=unlock, wait_previous_s=wait_previous_s) for cmd in commands
    ]
    if len(controllers) == 1:
        return [executor.submit(controllers[0])]
    jobs = []
    with executor.batch():
        for controller in controllers:
            jobs.append(executor.submit(controller))
    return jobs
