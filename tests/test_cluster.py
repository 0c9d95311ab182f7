"""factgap.cluster and scripts/submit_run.py: command lines, seed overlays, and a real run with
submitit's local executor (no SLURM needed)."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from factgap import cluster

REPO = Path(__file__).resolve().parents[1]
SUBMIT = REPO / "scripts" / "submit_run.py"


def _opt(cmd, flag):
    """Values following ``flag`` up to the next option."""
    i = cmd.index(flag)
    out = []
    for a in cmd[i + 1 :]:
        if a.startswith("-"):
            break
        out.append(a)
    return out


def test_slurm_command_defaults():
    cmd = cluster.snakemake_command(python="py")
    assert cmd[:3] == ["py", "-m", "snakemake"]
    assert _opt(cmd, "--profile") == ["profiles/slurm"]
    assert _opt(cmd, "--executor") == ["slurm"]
    assert "--rerun-incomplete" in cmd
    prefix = _opt(cmd, "--slurm-jobname-prefix")[0]
    assert prefix.startswith("factgap-")
    # stable across calls (a resubmitted controller finds its predecessor's jobs)...
    assert cmd == cluster.snakemake_command(python="py")
    # ...and independent of the Python path, different for a different run
    assert prefix == _opt(cluster.snakemake_command(python="other"), "--slurm-jobname-prefix")[0]
    assert prefix != _opt(cluster.snakemake_command(python="py", configfiles=["a.yaml"]), "--slurm-jobname-prefix")[0]


def test_command_profiles_configfiles_extra_targets():
    cmd = cluster.snakemake_command(
        profiles=["profiles/slurm", "profiles/slurm-test"],
        configfiles=["base.yaml", Path("over.yaml")],
        snakefile="wf/Snakefile",
        extra=["--until", "train_lora"],
        targets=["all"],
        python="py",
    )
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "--profile"] == ["profiles/slurm", "profiles/slurm-test"]
    assert _opt(cmd, "--configfile") == ["base.yaml", "over.yaml"]
    assert _opt(cmd, "--snakefile") == ["wf/Snakefile"]
    assert cmd[-3:] == ["--until", "train_lora", "all"]


def test_local_command_sets_cores_and_no_jobname_prefix():
    cmd = cluster.snakemake_command(executor="local", cores=6, python="py")
    assert _opt(cmd, "--profile") == ["profiles/local"]
    assert _opt(cmd, "--executor") == ["local"]
    assert _opt(cmd, "--cores") == ["6"]
    assert "--slurm-jobname-prefix" not in cmd


def test_bad_executor():
    with pytest.raises(ValueError):
        cluster.snakemake_command(executor="pbs")


def test_with_jobname_prefix_is_idempotent():
    cmd = cluster.snakemake_command(python="py")
    again, prefix = cluster.with_jobname_prefix(cmd)
    assert again == cmd and prefix == _opt(cmd, "--slurm-jobname-prefix")[0]
    assert cluster.unlock_command(cmd) == [*cmd, "--unlock"]


def test_seed_overlay():
    assert cluster.seed_overlay(3) == {"seed": 3}
    assert cluster.seed_overlay(3, "results_dir") == {"seed": 3, "results_dir": "results/seed-3"}
    assert cluster.seed_overlay(0, "out", "runs/") == {"seed": 0, "out": "runs/seed-0"}
    with pytest.raises(TypeError):
        cluster.seed_overlay("1")
    with pytest.raises(TypeError):
        cluster.seed_overlay(True)


def test_write_seed_overlays_typed_yaml(tmp_path):
    paths = cluster.write_seed_overlays([0, 1, 2], tmp_path / "ov", "results_dir")
    assert [p.name for p in paths] == ["seed-0.yaml", "seed-1.yaml", "seed-2.yaml"]
    loaded = yaml.safe_load(paths[2].read_text())
    assert loaded == {"seed": 2, "results_dir": "results/seed-2"}
    assert isinstance(loaded["seed"], int)  # the reason for overlays instead of --config seed=2
    mtime = paths[0].stat().st_mtime_ns
    cluster.write_seed_overlays([0], tmp_path / "ov", "results_dir")  # unchanged content: not rewritten
    assert paths[0].stat().st_mtime_ns == mtime
    with pytest.raises(ValueError):
        cluster.write_seed_overlays([1, 1], tmp_path / "ov")


def test_sweep_commands_put_overlay_last(tmp_path):
    cmds = cluster.sweep_commands([5, 6], tmp_path, configfiles=["base.yaml"], python="py")
    assert len(cmds) == 2
    for seed, cmd in zip([5, 6], cmds):
        files = _opt(cmd, "--configfile")
        assert files[0] == "base.yaml" and files[1].endswith(f"seed-{seed}.yaml")
    assert _opt(cmds[0], "--slurm-jobname-prefix") != _opt(cmds[1], "--slurm-jobname-prefix")


def test_site_env():
    assert cluster.site_env() == {}
    assert cluster.site_env("gpu", "proj", "") == {
        cluster.ENV_PARTITION: "gpu",
        cluster.ENV_ACCOUNT: "proj",
        cluster.ENV_GPU_MODEL: "",
    }


def test_controller_pickles_and_checkpoints(tmp_path):
    submitit = pytest.importorskip("submitit")
    ctl = cluster.SnakemakeController(cluster.snakemake_command(python="py"), tmp_path, {"A": "1"})
    assert isinstance(ctl, submitit.helpers.Checkpointable)
    ctl._proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ctl._proc.wait()
    clone = pickle.loads(pickle.dumps(ctl))
    assert clone.cmd == ctl.cmd and clone._proc is None and clone.env == {"A": "1"}
    delayed = ctl.checkpoint()
    nxt = delayed.function
    assert isinstance(nxt, cluster.SnakemakeController)
    assert nxt.restarts == 1 and nxt.unlock and nxt.cmd == ctl.cmd


def test_cli_print_only(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(SUBMIT),
            "--print-only",
            "--seeds",
            "0",
            "1",
            "--results-key",
            "results_dir",
            "--configfile",
            "config/config.yaml",
            "--folder",
            str(tmp_path / "%j"),
            "--",
            "-n",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.splitlines()
    assert len(out) == 2
    assert all(line.rstrip().endswith("-n") for line in out)
    assert (tmp_path / "overlays" / "seed-1.yaml").exists()
    assert str(REPO / "config" / "config.yaml") in out[0]


SNAKEFILE = textwrap.dedent("""\
    import sys
    PY = sys.executable
    rule all:
        input: "results/probe.txt"
    rule build_training_set:
        output: "results/train.txt"
        log: "results/logs/build_training_set.log"
        threads: 1
        shell: "{PY} -c 'from factgap.runtime import runtime_line; print(runtime_line({threads}))' > {log} 2>&1; echo ok > {output}"
    rule probe_knowledge:
        input: "results/train.txt"
        output: "results/probe.txt"
        log: "results/logs/probe_knowledge.log"
        threads: 1
        shell: "{PY} -c 'from factgap.runtime import runtime_line; print(runtime_line({threads}))' > {log} 2>&1; cat {input} > {output}"
""")


@pytest.mark.slow
def test_submitit_local_executor_runs_workflow(tmp_path):
    """The controller job, run by submitit's local executor, takes a throwaway workflow to the end."""
    pytest.importorskip("submitit")
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    cmd = cluster.snakemake_command(executor="local", profiles=[str(REPO / "profiles" / "local")], cores=1)
    jobs = cluster.submit(
        [cmd],
        workdir=tmp_path,
        folder=tmp_path / "submitit" / "%j",
        cluster="local",
        spec=cluster.JobSpec(time_min=10, cpus=1, mem_gb=1),
    )
    assert jobs[0].result() == 0, jobs[0].stderr()
    assert (tmp_path / "results" / "probe.txt").read_text() == "ok\n"
    line = (tmp_path / "results" / "logs" / "probe_knowledge.log").read_text().splitlines()[0]
    assert line.startswith("runtime: host=") and "slurm_job_id=-" in line


# ---- the profiles ---------------------------------------------------------------------------


def _profile(name):
    return yaml.safe_load((REPO / "profiles" / name / "config.yaml").read_text())


def _model_rules() -> set[str]:
    """Rules that read or write a model manifest (they run a language model), read from the rule files."""
    rules, current = set(), None
    for path in (REPO / "workflow" / "rules").rglob("*.smk"):
        for line in path.read_text().splitlines():
            if line.startswith("rule "):
                current = line.split()[1].rstrip(":")
            elif "manifest" in line and current:
                rules.add(current)
    return rules


def test_profiles_parse_and_overlay_covers_the_same_rules():
    slurm, test, local = _profile("slurm"), _profile("slurm-test"), _profile("local")
    assert slurm["executor"] == "slurm" and local["executor"] == "local" and local["keep-going"] is False
    assert test["slurm-status-command"] == "squeue"
    # top-level keys of a later --profile replace the earlier ones whole: the overlay must be complete
    assert set(test["set-resources"]) == set(slurm["set-resources"])
    assert set(test["set-threads"]) == set(slurm["set-threads"])
    assert set(test["default-resources"]) == set(slurm["default-resources"])
    gpu = {r for r, res in slurm["set-resources"].items() if res.get("gpu")}
    # every rule that runs a language model gets a GPU, except the weight conversion (the small
    # sentence-embedding model of the OOD similarity reads no manifest: it runs on the CPU)
    assert gpu == _model_rules() - {"prepare_model"}
    assert {"train_preference", "evaluate_mmlu", "evaluate_tuned_variant", "evaluate_ood_qa"} <= gpu
    assert gpu == {r for r, res in test["set-resources"].items() if res.get("gpu")}
    for res in slurm["set-resources"].values():
        assert "attempt" in str(res["mem_mb"]) and "attempt" in str(res["runtime"])


def _dryrun(tmp_path, profiles, env_extra):
    import os

    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTGAP_SLURM_")}
    env.update(env_extra)
    args = [sys.executable, "-m", "snakemake", "-n", "--cores", "16"]
    for p in profiles:
        args += ["--profile", str(REPO / "profiles" / p)]
    run = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    res = {}
    for rule, body in re.findall(r"rule (\w+):\n(.*?)(?=\n\n|\Z)", out, flags=re.S):
        m = re.search(r"resources: (.*)", body)
        if m:
            res[rule] = dict(kv.split("=", 1) for kv in m.group(1).split(", "))
    return res


def test_slurm_profile_reads_site_settings_from_environment(tmp_path):
    res = _dryrun(
        tmp_path,
        ["slurm"],
        {"FACTGAP_SLURM_PARTITION": "gpu-long", "FACTGAP_SLURM_ACCOUNT": "proj42", "FACTGAP_SLURM_GPU_MODEL": "h100"},
    )
    cpu, gpu = res["build_training_set"], res["probe_knowledge"]
    assert cpu["slurm_partition"] == gpu["slurm_partition"] == "gpu-long"
    assert cpu["slurm_account"] == "proj42" and gpu["gpu_model"] == "h100" and gpu["gpu"] == "1"
    assert "gpu" not in cpu
    assert gpu["mem_mb"] == "32000" and gpu["cpus_per_task"] == "8" and cpu["cpus_per_task"] == "1"
    # unset: empty partition/account (SLURM's default partition), GPU model a100
    res = _dryrun(tmp_path, ["slurm"], {})
    assert res["probe_knowledge"]["slurm_partition"] == "" and res["probe_knowledge"]["gpu_model"] == "a100"


def test_slurm_test_overlay(tmp_path):
    res = _dryrun(tmp_path, ["slurm", "slurm-test"], {"FACTGAP_SLURM_PARTITION": "ignored"})
    assert res["probe_knowledge"]["slurm_partition"] == "debug"
    assert res["probe_knowledge"]["slurm_account"] == "factgap"
    assert res["probe_knowledge"]["mem_mb"] == "2000" and res["build_training_set"]["mem_mb"] == "500"


def test_controller_succeeds_when_its_targets_are_complete_despite_a_failing_exit(tmp_path):
    """Two seed controllers in one folder: Snakemake removes .snakemake/locks when a run ends, and the later of
    two runs ending together fails after its work is done. The controller then checks the targets."""
    script = tmp_path / "fake_snakemake.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            if "--dry-run" in sys.argv:
                print("Nothing to be done (all requested files are present and up to date)." if "done" in sys.argv
                      else "Job stats: 3 jobs")
                sys.exit(0)
            sys.exit(1)  # the run itself fails (as in the lock race)
            """
        )
    )
    complete = cluster.SnakemakeController([sys.executable, str(script), "done"], tmp_path)
    assert complete() == 0
    incomplete = cluster.SnakemakeController([sys.executable, str(script), "more"], tmp_path)
    with pytest.raises(RuntimeError, match="exited with status 1"):
        incomplete()
