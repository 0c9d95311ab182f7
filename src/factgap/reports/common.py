"""Shared pieces of the report modules: loading predictions, CSV/Markdown/provenance output."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from factgap.io import write_json, write_text


def load_predictions(paths: Sequence[str | os.PathLike], meta: Sequence[Mapping[str, str]]) -> pd.DataFrame:
    """Concatenate prediction tables, adding the identifying columns in ``meta`` (model, dataset...)."""
    frames = []
    for path, extra in zip(paths, meta, strict=True):
        frame = pq.read_table(path).to_pandas()
        for key, value in extra.items():
            frame[key] = value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def zero_shot_test(predictions: pd.DataFrame) -> pd.DataFrame:
    """0-shot predictions on the in-distribution test set (frames without a testset column are all ID)."""
    out = predictions[predictions["prompt_mode"] == "zero_shot"]
    if "testset" in out:
        out = out[out["testset"] == "test"]
    return out


def fmt_ci(value: float, low: float, high: float, scale: float = 100.0) -> str:
    if any(math.isnan(v) for v in (value, low, high)):
        return "n/a"
    return f"{value * scale:.1f} [{low * scale:.1f}, {high * scale:.1f}]"


def markdown_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def write_table_outputs(numeric: pd.DataFrame, display: pd.DataFrame, title: str, notes: str,
                        provenance: Mapping[str, Any], csv_path, md_path, provenance_path) -> None:
    """CSV (numbers), Markdown (human table + provenance) and a provenance JSON sidecar."""
    write_text(numeric.to_csv(index=False, float_format="%.6g"), csv_path)
    md = (f"# {title}\n\n{markdown_table(display)}\n\n{notes}\n\n"
          f"<details><summary>Provenance</summary>\n\n```json\n{json.dumps(provenance, indent=2, sort_keys=True, default=str)}\n```\n</details>\n")
    write_text(md, md_path)
    write_json(provenance, provenance_path)


def save_figure(fig, path) -> None:
    """PNG written atomically (render to a temp name, then rename)."""
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None})
    os.replace(tmp, path)


def finish_figure(fig, title: str, png_path, tight: bool = False) -> None:
    """Title, layout, atomic PNG, and the figure closed (matplotlib keeps figures alive otherwise)."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=10)
    if tight:
        fig.tight_layout()
    save_figure(fig, png_path)
    plt.close(fig)


def variant_pairs(predictions: pd.DataFrame, pairs):
    """(model, dataset, (a, b), rows of a, rows of b) for each pair of variant labels present in the
    0-shot in-distribution test predictions of one model and dataset; rows sorted by item id."""
    for (model, dataset), group in zero_shot_test(predictions).groupby(["model", "dataset"], sort=True):
        by_variant = {v: g.sort_values("id") for v, g in group.groupby("variant")}
        for a, b in pairs:
            if a in by_variant and b in by_variant:
                yield model, dataset, (a, b), by_variant[a], by_variant[b]


def table_provenance(science: Mapping[str, Any], manifests, questions) -> dict:
    """Provenance of a table: config values, model manifests (weights identity), data hashes, versions."""
    from factgap.io import provenance, read_json

    inputs = {f"model:{p}": p for p in manifests} | {f"data:{p}": p for p in questions}
    record = provenance(science, inputs)
    record["models"] = {str(p): {k: v for k, v in read_json(p).items() if k != "load_from"} for p in manifests}
    return record


def known_unknown_row(base: pd.DataFrame, known: pd.DataFrame, unknown: pd.DataFrame, n_resamples: int,
                      confidence: float, seed: int) -> dict:
    """EM of the base, Known-trained and Unknown-trained models on the same items, and the paired gap."""
    from factgap.stats import bootstrap_mean, bootstrap_paired_difference

    if list(known["id"]) != list(unknown["id"]):
        raise ValueError("Known- and Unknown-trained predictions cover different test items")
    row = {}
    row.update(bootstrap_mean(base["correct"], n_resamples, confidence, seed).as_dict("base_em"))
    row.update(bootstrap_mean(known["correct"], n_resamples, confidence, seed).as_dict("known_em"))
    row.update(bootstrap_mean(unknown["correct"], n_resamples, confidence, seed).as_dict("unknown_em"))
    row.update(bootstrap_paired_difference(known["correct"].to_numpy(), unknown["correct"].to_numpy(),
                                           n_resamples, confidence, seed).as_dict("gap"))
    return row


def add_ci_columns(out: pd.DataFrame, table: pd.DataFrame, names) -> pd.DataFrame:
    """Human columns "value [low, high]" (in %) for each estimate in ``names`` present in ``table``."""
    for name in names:
        if name in table:
            out[name] = [fmt_ci(v, lo, hi) for v, lo, hi in zip(table[name], table[f"{name}_low"], table[f"{name}_high"])]
    return out


# ---- one shell for every report ----------------------------------------------------------------
@dataclass
class Report:
    """What a report module builds: the numbers, their human form, the words, and its figure."""

    table: pd.DataFrame
    display: pd.DataFrame
    title: str
    notes: str
    plot: Callable[[str], None]


class ReportInputs:
    """The files a report reads, by role (predictions, histories...), each with its metadata."""

    def __init__(self, paths: Mapping[str, Sequence[str]], meta: Mapping[str, Sequence[Mapping[str, str]]]):
        self._paths = {k: list(v) for k, v in paths.items()}
        self._meta = {k: list(v) for k, v in meta.items()}

    def paths(self, role: str) -> list[str]:
        return self._paths.get(role, [])

    def meta(self, role: str) -> list[Mapping[str, str]]:
        return self._meta.get(role, [])

    def frame(self, role: str, empty_columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Rows of every parquet file of ``role``, with each file's metadata as columns."""
        if not self.paths(role):
            if empty_columns is not None:
                return pd.DataFrame(columns=list(empty_columns))
            raise ValueError(f"no {role} files given")
        return load_predictions(self.paths(role), self.meta(role))

    def json(self, role: str) -> list[Any]:
        from factgap.io import read_json

        return [read_json(p) for p in self.paths(role)]


def publish_report(module: str, paths: Mapping[str, Sequence[str]], meta: Mapping[str, Sequence[Mapping[str, str]]],
                   options: Mapping[str, Any], science: Mapping[str, Any], manifests, questions,
                   outputs: Mapping[str, str]) -> pd.DataFrame:
    """Build report ``module`` (``factgap.reports.<name>``) and write its CSV, Markdown, provenance and PNG."""
    import importlib

    report = importlib.import_module(module).build(ReportInputs(paths, meta), **options)
    write_table_outputs(report.table, report.display, report.title, report.notes,
                        table_provenance(science, manifests, questions), outputs["csv"], outputs["md"],
                        outputs["provenance"])
    report.plot(outputs["png"])
    return report.table
