#!/usr/bin/env python
"""Summarise what each stage of a finished run cost, from Snakemake's benchmark files.

  .venv/bin/python scripts/stage_costs.py [results/benchmarks] [--markdown]

One row per rule: jobs, total and largest wall-clock seconds, largest peak memory (max_rss, MB).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def read_benchmarks(root: Path) -> dict[str, list[dict]]:
    by_rule: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(root.rglob("*.tsv")):
        rule = path.relative_to(root).parts[0]
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if rows:
            by_rule[rule].append(rows[-1])
    return by_rule


def summarise(by_rule: dict[str, list[dict]]) -> list[dict]:
    def num(value: str) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return 0.0

    rows = []
    for rule, runs in sorted(by_rule.items(), key=lambda kv: -sum(num(r["s"]) for r in kv[1])):
        seconds = [num(r["s"]) for r in runs]
        rows.append({"rule": rule, "jobs": len(runs), "total_s": round(sum(seconds), 1),
                     "max_s": round(max(seconds), 1), "max_rss_mb": round(max(num(r.get("max_rss")) for r in runs))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default="results/benchmarks", type=Path)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rows = summarise(read_benchmarks(args.root))
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
