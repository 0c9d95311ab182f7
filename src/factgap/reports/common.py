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


def describe_difference(row, column: str, where: str) -> str:
    """'<value> [low, high] points (<where>; interval excludes/includes 0)' for ``column`` and its
    ``_low`` / ``_high`` bounds."""
    text = fmt_ci(row[column], row[f"{column}_low"], row[f"{column}_high"])
    if text == "n/a":
        return f"n/a ({where})"
    zero = "excludes 0" if row[f"{column}_low"] > 0 or row[f"{column}_high"] < 0 else "includes 0"
    return f"{text} points ({where}; interval {zero})"


# ---- words for the "what this run found" captions ---------------------------------------------
def points(value) -> str:
    """A fraction as points with one decimal ("n/a" for a missing value)."""
    return "n/a" if pd.isna(value) else f"{100 * value:.1f}"


def percent(value) -> str:
    return "n/a" if pd.isna(value) else f"{100 * value:.1f}%"


def estimate_text(row, name: str) -> str:
    """ "value [low, high]" in points for estimate ``name`` of a table row."""
    return fmt_ci(row[name], row[f"{name}_low"], row[f"{name}_high"])


def difference_text(row, name: str = "gap") -> str:
    """A paired difference with its interval, saying whether the interval excludes 0."""
    text = estimate_text(row, name)
    if text == "n/a":
        return text
    return text + (" (excludes 0)" if row[f"{name}_low"] > 0 or row[f"{name}_high"] < 0 else " (includes 0)")


def describe_groups(table: pd.DataFrame, keys, describe_group: Callable[[Any, pd.DataFrame], str], most: int) -> str:
    """``describe_group(key, rows)`` for the first ``most`` groups of ``table`` by ``keys`` (in the order
    they appear), joined; " ..." says there are more."""
    groups = list(table.groupby(keys, sort=False, dropna=False))
    text = " ".join(describe_group(key, rows) for key, rows in groups[:most])
    return text + (" ..." if len(groups) > most else "")


def sort_by_stage(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in checkpoint order (early stop, then convergence), other stages last."""
    from factgap.naming import CHECKPOINTS

    rank = {s: i for i, s in enumerate(CHECKPOINTS)}
    return rows.sort_values("stage", key=lambda col: col.map(lambda s: rank.get(s, len(rank))), kind="stable")


def markdown_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def write_table_outputs(
    numeric: pd.DataFrame,
    display: pd.DataFrame,
    title: str,
    notes: str,
    provenance: Mapping[str, Any],
    csv_path,
    md_path,
    provenance_path,
) -> None:
    """CSV (numbers), Markdown (human table + provenance) and a provenance JSON sidecar."""
    write_text(numeric.to_csv(index=False, float_format="%.6g"), csv_path)
    md = (
        f"# {title}\n\n{markdown_table(display)}\n\n{notes}\n\n"
        f"<details><summary>Provenance</summary>\n\n```json\n{json.dumps(provenance, indent=2, sort_keys=True, default=str)}\n```\n</details>\n"
    )
    write_text(md, md_path)
    write_json(provenance, provenance_path)


def save_figure(fig, path) -> None:
    """PNG written atomically (render to a temp name, then rename)."""
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None})
    from factgap.io import fsync_file

    fsync_file(tmp)
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


def table_provenance(science: Mapping[str, Any], manifests, questions, model_outputs: Sequence[str] = ()) -> dict:
    """Provenance of a table: config values, model manifests (weights identity), data hashes, versions,
    and the inference backends (with versions) that wrote the model outputs it reads."""
    from factgap.io import backend_of, provenance, read_json

    inputs = {f"model:{p}": p for p in manifests} | {f"data:{p}": p for p in questions}
    record = provenance(science, inputs)
    record["models"] = {str(p): {k: v for k, v in read_json(p).items() if k != "load_from"} for p in manifests}
    record["backends"] = sorted({b for p in model_outputs if str(p).endswith(".parquet") and (b := backend_of(p))})
    return record


def known_unknown_row(
    base: pd.DataFrame, known: pd.DataFrame, unknown: pd.DataFrame, n_resamples: int, confidence: float, seed: int
) -> dict:
    """EM of the base, Known-trained and Unknown-trained models on the same items, and the paired gap."""
    from factgap.stats import bootstrap_mean, bootstrap_paired_difference

    if list(known["id"]) != list(unknown["id"]):
        raise ValueError("Known- and Unknown-trained predictions cover different test items")
    row = {}
    row.update(bootstrap_mean(base["correct"], n_resamples, confidence, seed).as_dict("base_em"))
    row.update(bootstrap_mean(known["correct"], n_resamples, confidence, seed).as_dict("known_em"))
    row.update(bootstrap_mean(unknown["correct"], n_resamples, confidence, seed).as_dict("unknown_em"))
    row.update(
        bootstrap_paired_difference(
            known["correct"].to_numpy(), unknown["correct"].to_numpy(), n_resamples, confidence, seed
        ).as_dict("gap")
    )
    return row


def add_ci_columns(out: pd.DataFrame, table: pd.DataFrame, names) -> pd.DataFrame:
    """Human columns "value [low, high]" (in %) for each estimate in ``names`` present in ``table``."""
    for name in names:
        if name in table:
            out[name] = [
                fmt_ci(v, lo, hi) for v, lo, hi in zip(table[name], table[f"{name}_low"], table[f"{name}_high"])
            ]
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
    finding: str = ""  # what this run found, in one or two sentences with its numbers


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


def publish_report(
    module: str,
    paths: Mapping[str, Sequence[str]],
    meta: Mapping[str, Sequence[Mapping[str, str]]],
    options: Mapping[str, Any],
    science: Mapping[str, Any],
    manifests,
    questions,
    outputs: Mapping[str, str],
    shows: str = "",
) -> pd.DataFrame:
    """Build report ``module`` (``factgap.reports.<name>``) and write its CSV, Markdown, provenance and PNG."""
    import importlib

    loaded = importlib.import_module(module)
    report = loaded.build(ReportInputs(paths, meta), **options)
    provenance = table_provenance(science, manifests, questions, [p for ps in paths.values() for p in ps])
    write_table_outputs(
        report.table,
        report.display,
        report.title,
        report.notes,
        provenance,
        outputs["csv"],
        outputs["md"],
        outputs["provenance"],
    )
    if "caption" in outputs:
        write_text(
            caption_rst(
                report.title,
                shows,
                loaded.PAPER_FINDING,
                report.finding or "(no summary)",
                report.notes,
                provenance_summary(provenance),
            ),
            outputs["caption"],
        )
    report.plot(outputs["png"])
    return report.table


# ---- captions of the Snakemake report (rendered by docutils after Jinja) --------------------------
_RST_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*`_|[]<>"})


def rst_text(text: str) -> str:
    """Plain text made inert for reStructuredText (no emphasis, references or substitutions) and for the
    Jinja pass Snakemake runs over a caption before docutils."""
    body = " ".join(str(text).split()).translate(_RST_SPECIAL)
    return "{% raw %}" + body + "{% endraw %}" if "{" in body else body


def caption_rst(title: str, shows: str, paper: str, run: str, notes: str, provenance: str) -> str:
    """The caption of one table/figure: what it shows, what the paper found, what this run found."""
    parts = [
        ("What it shows", shows),
        ("What the paper found", paper),
        ("What this run found", run),
        ("How to read the numbers", notes),
        ("Provenance", provenance),
    ]
    body = "\n\n".join(f"**{label}.** {rst_text(text)}" for label, text in parts if text)
    return f"{rst_text(title)}\n\n{body}\n"


def provenance_summary(record: Mapping[str, Any]) -> str:
    """One line naming the model weights, the data files' hashes and the key package versions."""
    models = [
        f"{m.get('origin')} ({m.get('source')}, sha256 {str(m.get('origin_sha256'))[:12]}, "
        f"revision {m.get('revision')}, {m.get('dtype')})"
        for m in record.get("models", {}).values()
    ]
    data = [
        f"{entry['path']} sha256 {entry['sha256'][:12]}"
        for key, entry in record.get("inputs", {}).items()
        if key.startswith("data:")
    ]
    packages = record.get("packages", {})
    versions = ", ".join(
        f"{k} {packages[k]}" for k in ("factgap", "torch", "transformers", "peft", "trl") if k in packages
    )
    backends = "inference: " + ", ".join(record["backends"]) if record.get("backends") else ""
    return "; ".join(
        x
        for x in (
            "model: " + ", ".join(models) if models else "",
            "data: " + ", ".join(data) if data else "",
            backends,
            versions,
        )
        if x
    )
