#!/usr/bin/env python
"""Run the workflow for every seed of config `seeds` (each under <results_dir>/seed-<n>, the prepared
models shared) and then the across-seed summary (`across_seeds`: results/tables/across_seeds_<study>.*).

  .venv/bin/python scripts/seed_sweep.py                         # config/config.yaml, its seeds and studies
  .venv/bin/python scripts/seed_sweep.py --studies s1 s2 --seeds 0 1 2
  .venv/bin/python scripts/seed_sweep.py --print-only            # show the commands

Anything after `--` goes to every Snakemake call (e.g. `-- --profile profiles/local`). On a SLURM
cluster submit the seeds as one job array instead (scripts/submit_run.py --seeds ... --results-key
results_dir), then run `snakemake across_seeds` with `--config` seeds matching.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from factgap.seed_design import sweep_commands, sweep_overlays  # noqa: E402


def merged_config(paths: list[str]) -> dict:
    merged: dict = {}
    for path in paths:
        merged.update(yaml.safe_load(Path(path).read_text()) or {})
    return merged


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configfile", nargs="+", default=[str(REPO / "config" / "config.yaml")])
    p.add_argument("--seeds", type=int, nargs="+", help="default: config seeds, else 0 1 2")
    p.add_argument("--studies", nargs="+", help="default: config studies")
    p.add_argument("--cores", default="all")
    p.add_argument("--print-only", action="store_true")
    args = p.parse_args(argv)
    config = merged_config(args.configfile)
    seeds = args.seeds or config.get("seeds", [0, 1, 2])
    results_dir = config.get("results_dir", "results")
    per_seed, summary = sweep_overlays(seeds, results_dir, args.studies)
    folder = Path(results_dir) / "seed-configs"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for overlay in per_seed:
        path = folder / f"seed-{overlay['seed']}.yaml"
        path.write_text(yaml.safe_dump(overlay, sort_keys=True))
        paths.append(str(path))
    summary_path = folder / "summary.yaml"
    summary_path.write_text(yaml.safe_dump(summary, sort_keys=True))
    snakemake = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
    for cmd in sweep_commands(snakemake, args.configfile, paths, str(summary_path), extra):
        print("+", shlex.join(cmd), flush=True)
        if not args.print_only:
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
