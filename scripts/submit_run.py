#!/usr/bin/env python
"""Submit the Snakemake controller as one long-running SLURM job (or a seed sweep as a job array).

Examples (from the repository root):

  # one run; rule jobs go to SLURM via profiles/slurm
  .venv/bin/python scripts/submit_run.py --configfile config/config.yaml --partition gpu --account proj42

  # three seeds as one job array, each with its own overlay config (seed + results root)
  .venv/bin/python scripts/submit_run.py --configfile config/config.yaml --seeds 0 1 2 --results-key results_dir

  # local test cluster (scripts/slurm/local_cluster.sh up)
  .venv/bin/python scripts/submit_run.py --profile profiles/slurm --profile profiles/slurm-test --wait

  # rules inside the controller's own allocation (no SLURM job per rule)
  .venv/bin/python scripts/submit_run.py --executor local --cpus 16 --mem-gb 64 --gpus 1

  # print what would be submitted
  .venv/bin/python scripts/submit_run.py --print-only --seeds 0 1

Anything after `--` goes to Snakemake unchanged (targets, --until, -n, ...).
The controller job is requeued on timeout/preemption (up to --max-requeues times) and resumes with
--rerun-incomplete; after a manual `scancel`, submit again with --unlock.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from factgap import cluster  # noqa: E402


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    p.add_argument("--configfile", nargs="+", default=[], help="Snakemake config file(s), in order")
    p.add_argument(
        "--profile",
        action="append",
        default=None,
        help="Snakemake profile (repeatable; later ones override). Default: profiles/<executor>",
    )
    p.add_argument(
        "--executor",
        choices=["slurm", "local"],
        default="slurm",
        help="where the rule jobs run: one SLURM job each (slurm) or inside the controller job (local)",
    )
    p.add_argument("--snakefile", help="default: Snakemake's search (workflow/Snakefile)")
    p.add_argument("--directory", default=str(REPO), help="working directory of the run (default: repo root)")
    p.add_argument("--seeds", type=int, nargs="+", help="one controller per seed, submitted as one job array")
    p.add_argument("--results-key", help="config key that holds the results root; each seed gets results/seed-<n>")
    p.add_argument("--results-base", default="results", help="parent of the per-seed results roots")
    p.add_argument("--time-min", type=int, default=7 * 24 * 60, help="controller job time limit in minutes")
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the controller job")
    p.add_argument("--mem-gb", type=int, default=8, help="memory of the controller job (GB)")
    p.add_argument("--gpus", type=int, default=0, help="GPUs of the controller job (only useful with --executor local)")
    p.add_argument(
        "--partition",
        help=f"partition of the controller job; also exported as {cluster.ENV_PARTITION} for the rule jobs",
    )
    p.add_argument("--account", help=f"account of the controller job; also exported as {cluster.ENV_ACCOUNT}")
    p.add_argument("--gpu-model", help=f"exported as {cluster.ENV_GPU_MODEL} (GPU type of the GPU rules)")
    p.add_argument("--folder", default="results/submitit/%j", help="submitit logs and pickles (%%j = job id)")
    p.add_argument(
        "--cluster",
        choices=["slurm", "local", "debug"],
        default="slurm",
        help="where the controller runs: a SLURM job (slurm) or a local process (local/debug, for tests)",
    )
    p.add_argument("--max-requeues", type=int, default=3, help="requeues after timeout before giving up")
    p.add_argument("--unlock", action="store_true", help="run `snakemake --unlock` first (after a killed controller)")
    p.add_argument(
        "--wait-previous-min",
        type=float,
        default=720,
        help="on restart, wait at most this long for rule jobs of the killed controller to end",
    )
    p.add_argument("--wait", action="store_true", help="wait for the job(s) and exit with their status")
    p.add_argument("--print-only", action="store_true", help="print the Snakemake command(s) and exit")
    args = p.parse_args(argv)
    return args, extra


def build_commands(args: argparse.Namespace, extra: list[str]) -> list[list[str]]:
    common = dict(executor=args.executor, profiles=args.profile, snakefile=args.snakefile, cores=args.cpus, extra=extra)
    configfiles = [str(Path(c).absolute()) for c in args.configfile]
    if args.seeds:
        overlay_dir = Path(args.folder.replace("%j", "overlays")).absolute()
        return cluster.sweep_commands(
            args.seeds,
            overlay_dir,
            configfiles=configfiles,
            results_key=args.results_key,
            results_base=args.results_base,
            **common,
        )
    return [cluster.snakemake_command(configfiles=configfiles, **common)]


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    if args.seeds and len(args.seeds) > 1 and not args.results_key:
        print(
            "warning: several seeds without --results-key write to the same outputs; Snakemake's "
            "locks will make all but one controller fail. Pass --results-key KEY.",
            file=sys.stderr,
        )
    commands = build_commands(args, extra)
    if args.print_only:
        for cmd in commands:
            print(shlex.join(cmd))
        return 0
    env = cluster.site_env(args.partition, args.account, args.gpu_model)
    spec = cluster.JobSpec(
        time_min=args.time_min,
        cpus=args.cpus,
        mem_gb=args.mem_gb,
        gpus=args.gpus,
        partition=args.partition,
        account=args.account,
        max_requeues=args.max_requeues,
    )
    jobs = cluster.submit(
        commands,
        workdir=args.directory,
        folder=args.folder,
        cluster=args.cluster,
        spec=spec,
        env=env,
        unlock=args.unlock,
        wait_previous_s=args.wait_previous_min * 60,
    )
    for job, cmd in zip(jobs, commands):
        print(f"submitted {job.job_id}: {shlex.join(cmd)}")
        print(f"  logs: {job.paths.stdout} {job.paths.stderr}")
    if not args.wait:
        return 0
    status = 0
    for job in jobs:
        try:
            job.result()
            print(f"{job.job_id}: done")
        except Exception as exc:  # noqa: BLE001 - report every failed job
            print(f"{job.job_id}: FAILED: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
