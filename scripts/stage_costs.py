#!/usr/bin/env python
"""Summarise what each stage of a finished run cost, from Snakemake's benchmark files.

  .venv/bin/python scripts/stage_costs.py [results/benchmarks] [--markdown]

One row per rule: jobs, total and largest wall-clock seconds, largest peak memory (max_rss, MB).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from factgap.run_report import read_benchmarks


def summarise(root: Path) -> list[dict]:
    """Per rule, most expensive first: jobs, total and largest wall-clock seconds, largest max_rss (MB)."""
    frame = read_benchmarks(root).fillna({"wall_s": 0.0, "max_rss_mb": 0.0})
    rows = []
    for rule, runs in frame.groupby("rule"):
        rows.append(
            {
                "rule": rule,
                "jobs": len(runs),
                "total_s": round(runs["wall_s"].sum(), 1),
                "max_s": round(runs["wall_s"].max(), 1),
                "max_rss_mb": round(runs["max_rss_mb"].max()),
            }
        )
    return sorted(rows, key=lambda r: -r["total_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default="results/benchmarks", type=Path)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rows = summarise(args.root)
    if not rows:
        raise SystemExit(f"no benchmark files under {args.root}")
    cols = list(rows[0])
    if args.markdown:
        print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for row in rows:
            print("| " + " | ".join(str(row[c]) for c in cols) + " |")
    else:
        for row in rows:
            print("  ".join(f"{c}={row[c]}" for c in cols))


if __name__ == "__main__":
    main()
