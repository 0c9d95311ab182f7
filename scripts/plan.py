#!/usr/bin/env python
"""Cost plan of a run before it is submitted: per GPU rule the jobs, predicted GPU-hours, peak GPU
memory, and whether they fit the profile's GPU and runtime limit (factgap.plan; `make plan CONFIG=...`).

  .venv/bin/python scripts/plan.py [--configfile config/paper/s2_entityquestions.yaml]
                                   [--gpu-model a100] [--gpu-memory-gib 40] [--profile profiles/slurm]

The jobs come from a dry-run of the workflow (the real DAG). The GPU model: --gpu-model, else
FACTGAP_SLURM_GPU_MODEL as profiles/slurm/config.yaml reads it, else a100. Local data files the config
names are counted when present (EntityQuestions' archive, FActScore's entity list, FAVA / FPQA / KUQA);
otherwise the released sizes in factgap.plan stand in.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from snakemake.utils import validate

from factgap import plan
from factgap.data.apeft import read_json_rows
from factgap.data.entityquestions import release_question_counts

REPO = Path(__file__).resolve().parents[1]


def load_config(configfile: Path) -> dict:
    """The config as the workflow sees it: validated, schema defaults filled in."""
    config = yaml.safe_load(configfile.read_text()) or {}
    validate(config, str(REPO / "config" / "schema.yaml"), set_default=True)
    return config


def dry_run(configfile: Path) -> list[plan.Job]:
    """Every job of the config's DAG, from `snakemake -n` in a scratch folder (nothing is run or written here)."""
    with tempfile.TemporaryDirectory(prefix="factgap-plan-") as scratch:
        cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile")]
        cmd += ["--directory", scratch, "--configfile", str(configfile.resolve())]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        proc = subprocess.run(cmd, cwd=scratch, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"the dry-run of {configfile} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return plan.jobs_from_dry_run(proc.stdout + proc.stderr)


def line_count(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def local_counts(config: dict) -> dict[str, object]:
    """Sizes of the local data files the config names and this machine has (path as written in the config).
    A file that cannot be read is left to the released sizes (the workflow's own checks will name it)."""
    counters = {}
    for spec in config["datasets"].values():
        if spec["loader"] == "entityquestions" and spec.get("path"):
            counters[spec["path"]] = release_question_counts
    s3 = config["s3"]
    if s3["people"]["source"] == "factscore" and s3["people"].get("entities_path"):
        counters[s3["people"]["entities_path"]] = line_count
    for path in [s3["evaluation"]["ood_topics"].get("path"), *(q["path"] for q in s3["evaluation"]["ood_qa_sets"])]:
        if path:
            counters[path] = lambda p: len(read_json_rows(p))
    counts: dict[str, object] = {}
    for path, count in counters.items():
        if not Path(path).exists():
            continue
        try:
            counts[path] = count(Path(path))
        except (OSError, ValueError) as error:
            print(f"plan: {path} not counted ({error}); the released size stands in", file=sys.stderr)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument(
        "--gpu-model",
        default=os.environ.get("FACTGAP_SLURM_GPU_MODEL", plan.DEFAULT_GPU_MODEL),
        help=f"GPU of the GPU rules, one of {', '.join(plan.GPU_SPECS)} (default: FACTGAP_SLURM_GPU_MODEL, else a100)",
    )
    parser.add_argument(
        "--gpu-memory-gib", type=float, help="the card's memory, e.g. 40 for an A100 40 GB (default: the table's)"
    )
    parser.add_argument("--profile", type=Path, default=REPO / "profiles" / "slurm", help="Snakemake profile folder")
    parser.add_argument(
        "--measured",
        type=Path,
        metavar="RESULTS_DIR",
        help="a run's results folder: sets the predicted GPU-hours next to those its finished jobs took",
    )
    args = parser.parse_args()

    config = load_config(args.configfile)
    limits = plan.profile_limits(yaml.safe_load((args.profile / "config.yaml").read_text()))
    try:
        gpu_model, gpu = plan.gpu_spec(args.gpu_model, args.gpu_memory_gib)
        counts = local_counts(config)
        result = plan.plan_run(config, dry_run(args.configfile), limits, gpu_model, gpu, counts)
    except ValueError as error:  # an unknown GPU or model, a config the plan cannot size: say which key
        raise SystemExit(f"plan: {error}") from None
    shown = args.configfile.resolve()
    shown = shown.relative_to(REPO) if shown.is_relative_to(REPO) else args.configfile
    title = f"Cost plan of {shown} ({args.profile.name} profile, GPU {gpu_model})"
    if counts:
        title += "\nsizes counted from local files: " + ", ".join(sorted(counts))
    print(plan.format_plan(result, limits, title))
    if args.measured:
        from factgap.run_report import read_benchmarks

        runs = read_benchmarks(args.measured / "benchmarks")
        gpu_runs = runs[runs["rule"].isin(limits.gpus)]
        hours = {rule: limits.gpus[rule] * g["wall_s"].sum() / 3600 for rule, g in gpu_runs.groupby("rule")}
        jobs = gpu_runs.groupby("rule").size().to_dict()
        print(f"\nPredicted and measured ({args.measured}/benchmarks, the last try of each job):")
        print(plan.compare_with_measured(result, hours, jobs))


if __name__ == "__main__":
    main()
