"""Rehearse paper configs on this machine: each config/paper/<name>.yaml with its overlay
config/rehearsal/<name>.yaml (sizes, model and data locations only), run end to end on the CPU with
tiny stand-in models and data files in the released layouts (factgap.rehearsal), to its tables and
figures. Work folders: <root>/<name>; stand-ins and data are built once under <root>. Jobs get one
thread each, so that two run at once on a 2-core machine (the stand-ins are too small to use more).

    python scripts/rehearse.py [--root rehearsal] [--cores 2] [name ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from factgap.rehearsal.inputs import build_data, build_standins, standin_names  # noqa: E402


def outputs(workdir: Path) -> list[str]:
    found = []
    for folder in ("tables", "figures"):
        found += sorted(str(p.relative_to(workdir)) for p in (workdir / "results" / folder).rglob("*") if p.is_file())
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="paper configs by name (default: every one with an overlay)")
    parser.add_argument("--root", default="rehearsal", type=Path)
    parser.add_argument("--cores", default="2")
    args = parser.parse_args()
    overlays = {p.stem: p for p in sorted((REPO / "config" / "rehearsal").glob("*.yaml"))}
    papers = {p.stem: p for p in sorted((REPO / "config" / "paper").glob("*.yaml"))}
    names = args.names or sorted(papers)
    unknown = sorted(set(names) - set(papers))
    if unknown:
        print(f"unknown paper config(s) {', '.join(unknown)}; known: {', '.join(papers)}", file=sys.stderr)
        return 2
    missing = [n for n in names if n not in overlays]
    if missing:  # every paper config is rehearsed: a new one needs its overlay
        print(f"paper configs without a rehearsal overlay (config/rehearsal/): {', '.join(missing)}", file=sys.stderr)
        return 2
    root = args.root.resolve()
    start = time.perf_counter()
    build_data(root)
    needed = sorted({n for name in names for n in standin_names(yaml.safe_load(overlays[name].read_text()))})
    build_standins(root, needed)
    print(f"rehearsal inputs under {root}: {time.perf_counter() - start:.0f} s", flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    summary, failed = [], []
    for name in names:
        workdir = root / name
        workdir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(papers[name]), str(overlays[name]),
            "--cores", args.cores, "--max-threads", "1", "--rerun-incomplete", "--show-failed-logs", "--quiet", "rules",
        ]  # fmt: skip
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        began = time.perf_counter()
        code = subprocess.call(cmd, env=env)
        elapsed = time.perf_counter() - began
        written = outputs(workdir)
        summary.append(f"{name}: exit {code}, {elapsed / 60:.1f} min, {len(written)} tables and figures")
        summary += [f"    {w}" for w in written]
        if code != 0:
            failed.append(name)
    print("\n".join(["", "rehearsal summary:", *summary]))
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
