"""Run-level items of the Snakemake report: what each rule cost (from Snakemake's benchmark files) and
the provenance every published table recorded, merged into one table."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

COST_COLUMNS = ["rule", "jobs", "wall_hours", "cpu_hours", "gpus_per_job", "gpu_hours", "peak_rss_mb", "longest_job_s"]


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):  # Snakemake writes "NA" where a value could not be measured
        return float("nan")


def read_benchmarks(root: str | Path) -> pd.DataFrame:
    """One row per benchmark file under ``root`` (``<root>/<rule>/.../<key>.tsv``): its last repeat."""
    root = Path(root)
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        with open(path, newline="") as handle:
            repeats = list(csv.DictReader(handle, delimiter="\t"))
        if not repeats:
            continue
        last = repeats[-1]
        rows.append(
            {
                "rule": path.relative_to(root).parts[0],
                "job": str(path.relative_to(root)),
                "wall_s": _number(last.get("s")),
                "cpu_s": _number(last.get("cpu_time")),
                "max_rss_mb": _number(last.get("max_rss")),
            }
        )
    return pd.DataFrame(rows, columns=["rule", "job", "wall_s", "cpu_s", "max_rss_mb"])


def cost_table(benchmarks: pd.DataFrame, gpus_per_rule: Mapping[str, int]) -> pd.DataFrame:
    """Per rule: jobs, wall-clock, CPU and GPU hours, peak memory; most expensive rule first, then a total
    row. GPU-hours = wall-clock x the GPUs the rule asks for in the profile (0 where it asks for none)."""
    rows = []
    for rule, group in benchmarks.groupby("rule", sort=True):
        gpus = int(gpus_per_rule.get(rule, 0))
        rows.append(
            {
                "rule": rule,
                "jobs": len(group),
                "wall_hours": group["wall_s"].sum() / 3600,
                "cpu_hours": group["cpu_s"].sum(min_count=1) / 3600,
                "gpus_per_job": gpus,
                "gpu_hours": gpus * group["wall_s"].sum() / 3600,
                "peak_rss_mb": group["max_rss_mb"].max(),
                "longest_job_s": group["wall_s"].max(),
            }
        )
    table = pd.DataFrame(rows, columns=COST_COLUMNS).sort_values(["wall_hours", "rule"], ascending=[False, True])
    total = {
        "rule": "all rules",
        "jobs": int(table["jobs"].sum()),
        "wall_hours": table["wall_hours"].sum(),
        "cpu_hours": table["cpu_hours"].sum(min_count=1),
        "gpus_per_job": float("nan"),
        "gpu_hours": table["gpu_hours"].sum(),
        "peak_rss_mb": table["peak_rss_mb"].max(),
        "longest_job_s": table["longest_job_s"].max(),
    }
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def _flatten(value, prefix: str = "") -> dict[str, str]:
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: json.dumps(value, sort_keys=True, default=str)}


def merge_provenance(records: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per (section, key, value) over the tables' provenance records (``table -> record``):
    config values (dotted keys), model weights, data hashes, package versions, and the tables that
    recorded each value. Two values for one key (tables built at different times) both appear."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    for table, record in sorted(records.items()):
        entries = {("config", k): v for k, v in _flatten(record.get("config", {})).items()}
        for path, model in record.get("models", {}).items():
            entries.update({("model", f"{path}.{k}"): json.dumps(v, default=str) for k, v in sorted(model.items())})
        entries.update({("data", entry["path"]): entry["sha256"] for entry in record.get("inputs", {}).values()})
        entries.update({("package", k): str(v) for k, v in record.get("packages", {}).items()})
        entries.update({("backend", backend): "model outputs" for backend in record.get("backends", [])})
        for (section, key), value in entries.items():
            seen.setdefault((section, key, value), []).append(table)
    order = {"model": 0, "backend": 1, "data": 2, "package": 3, "config": 4}
    rows = [
        {"section": s, "key": k, "value": v, "tables": len(t), "recorded_by": " ".join(t)}
        for (s, k, v), t in seen.items()
    ]
    frame = pd.DataFrame(rows, columns=["section", "key", "value", "tables", "recorded_by"])
    return frame.sort_values(
        ["section", "key", "value"], key=lambda c: c.map(order) if c.name == "section" else c, ignore_index=True
    )


def conflicting_keys(provenance: pd.DataFrame) -> list[str]:
    """Keys recorded with more than one value: the tables were not all built from the same inputs."""
    counts = provenance.groupby(["section", "key"])["value"].nunique()
    return [f"{s}:{k}" for (s, k), n in counts.items() if n > 1]


def plot_costs(costs: pd.DataFrame, png_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from factgap.reports.common import finish_figure

    rules = costs[costs["rule"] != "all rules"].sort_values("wall_hours")
    fig, ax = plt.subplots(figsize=(7, 0.28 * max(4, len(rules)) + 1))
    ax.barh(rules["rule"], rules["wall_hours"] * 60, color="tab:blue", label="wall-clock")
    ax.barh(rules["rule"], rules["gpu_hours"] * 60, color="tab:green", alpha=0.6, label="GPU")
    ax.set_xlabel("minutes, summed over the rule's jobs")
    ax.legend(fontsize=8)
    finish_figure(fig, "Cost per rule (Snakemake benchmark files)", png_path, tight=True)


def costs_finding(costs: pd.DataFrame) -> str:
    per_rule = costs[costs["rule"] != "all rules"]
    total = costs[costs["rule"] == "all rules"].iloc[0]
    top = per_rule.head(3)
    parts = ", ".join(f"{r.rule} {r.wall_hours * 60:.1f} min over {r.jobs} jobs" for r in top.itertuples())
    return (
        f"{int(total['jobs'])} benchmarked jobs took {total['wall_hours'] * 60:.1f} min of wall-clock in all "
        f"({total['cpu_hours']:.2f} CPU-hours, {total['gpu_hours']:.2f} GPU-hours, peak memory "
        f"{total['peak_rss_mb']:.0f} MB); the most expensive rules: {parts}."
    )


def publish_run_report(
    benchmarks_root: str, gpus_per_rule: Mapping[str, int], provenance_paths: Sequence[str], outputs: Mapping[str, str]
) -> None:
    """The cost table/figure and the merged provenance table of a run, with their report captions."""
    from factgap.io import read_json, write_text
    from factgap.reports.common import caption_rst, markdown_table

    benchmarks = read_benchmarks(benchmarks_root)
    if benchmarks.empty:
        raise ValueError(f"no benchmark files under {benchmarks_root}: nothing to cost")
    costs = cost_table(benchmarks, gpus_per_rule)
    write_text(costs.to_csv(index=False, float_format="%.6g"), outputs["costs_csv"])
    write_text(f"# Cost per rule\n\n{markdown_table(costs.round(4))}\n", outputs["costs_md"])
    plot_costs(costs, outputs["costs_png"])
    write_text(
        caption_rst(
            "Cost per rule",
            "Jobs, wall-clock, CPU- and GPU-hours and peak memory (max RSS) of every rule of this "
            "run, summed over its jobs, from the benchmark file Snakemake writes for each job.",
            "",
            costs_finding(costs),
            "GPU-hours = wall-clock x the GPUs the rule asks for in the profile the report was "
            "made with (none in profiles/local). A job run again replaces its benchmark file: a rerun is counted "
            "once, at its last cost.",
            "",
        ),
        outputs["caption"],
    )

    provenance = merge_provenance(
        {Path(p).name.removesuffix(".provenance.json"): read_json(p) for p in provenance_paths}
    )
    write_text(provenance.to_csv(index=False), outputs["provenance_csv"])
    conflicts = conflicting_keys(provenance)
    write_text(
        caption_rst(
            "Provenance",
            "Every value the published tables recorded about their inputs: the config of the science, "
            "the model weights (origin, sha256, revision, dtype), the sha256 of the data files and the package "
            "versions, with the tables that recorded it.",
            "",
            (
                f"{len(provenance_paths)} tables; "
                + (
                    f"keys with more than one value (tables built from different inputs): {', '.join(conflicts)}."
                    if conflicts
                    else "every table was built from the same config, model, data and package versions."
                )
            ),
            "",
            "",
        ),
        outputs["provenance_caption"],
    )
