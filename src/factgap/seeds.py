"""Headline numbers over seeds: a pure core and its file shell.

A seed sweep (``make seeds``, ``factgap.seed_sweep``) runs the workflow once per seed, each under
``<results_dir>/seed-<n>`` with the prepared models shared (``models_dir``); the ``across_seeds``
target then reads every seed's tables and writes, per study:

* every cell of every table (its key columns x each estimate column): the value of each seed, the
  mean, sd, min-max, a t-interval over seeds and whether the sign is the same on every seed;
* pooled paired tests where the items are paired (two variants on the same test items, or one
  variant under two prompts): what is pooled is the per-item differences of every seed. Seeds draw
  their test splits independently, so one question can be a test item of several seeds; its
  differences are averaged into one value per item first, so no item counts twice: the interval
  (bootstrap over items) and the t-test (one-sample, on the per-item differences) treat items, not
  seed-item pairs, as the independent units (``n_items`` unique items, ``n_pairs`` seed-item pairs).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from factgap.seed_design import PairedComparison

log = logging.getLogger(__name__)

INTERVAL_SUFFIXES = ("_low", "_high")
KEY_SEPARATOR = "; "


# ---- every cell of a table ----------------------------------------------------------------------
def _is_count(name: str) -> bool:
    return name == "n" or name.startswith("n_") or name.endswith("_n")


def cell_columns(table: pd.DataFrame, name: str = "table") -> tuple[list[str], list[str]]:
    """(key columns, value columns) of a report table read back from its CSV.

    Values: the estimates (a column with ``_low`` and ``_high`` siblings, whatever dtype the CSV gave
    it) and the other float columns, less bounds and counts. Keys: the text columns, then the fewest
    integer columns, in table order, that make a row unique (``epoch`` identifies a row of the training
    dynamics; ``global_step`` after it would differ between seeds and is left out). Booleans and counts
    are neither.
    """
    columns = list(table.columns)
    estimates = {c for c in columns if f"{c}_low" in table and f"{c}_high" in table}
    derived = {f"{c}{suffix}" for c in estimates for suffix in (*INTERVAL_SUFFIXES, "_n")}

    def plain(c: str) -> bool:
        return c not in derived and not c.endswith(INTERVAL_SUFFIXES) and not _is_count(c)

    text = [c for c in columns if table[c].dtype == object or pd.api.types.is_string_dtype(table[c])]
    ints = [
        c
        for c in columns
        if pd.api.types.is_integer_dtype(table[c])
        and not pd.api.types.is_bool_dtype(table[c])
        and c not in estimates
        and plain(c)
    ]
    values = [
        c
        for c in columns
        if plain(c)
        and not pd.api.types.is_bool_dtype(table[c])
        and (c in estimates or pd.api.types.is_float_dtype(table[c]))
    ]
    keys = list(text)
    for extra in [None, *ints]:
        if extra is not None:
            keys.append(extra)
        unique = not table.duplicated(subset=keys).any() if keys else len(table) <= 1
        if unique:
            return keys, values
    raise ValueError(f"{name}: its text and integer columns do not identify a row; cannot align it across seeds")


def cell_key(row: Mapping, keys: Sequence[str]) -> str:
    return KEY_SEPARATOR.join(f"{k}={row[k]}" for k in keys)


def table_cells(table: pd.DataFrame, name: str = "table") -> pd.DataFrame:
    """Long form: one row per (cell key, value column) with its value."""
    keys, values = cell_columns(table, name)
    rows = [
        {"key": cell_key(row, keys), "column": column, "value": float(row[column])}
        for row in table.to_dict("records")
        for column in values
    ]
    return pd.DataFrame(rows, columns=["key", "column", "value"])


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean over seeds (nan with fewer than two values)."""
    from scipy import stats

    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if x.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


def sign_over_seeds(values: Sequence[float]) -> str:
    """'+' or '-' when every seed has that sign, '0' when all are zero, else 'mixed'."""
    x = [v for v in values if not math.isnan(v)]
    if x and all(v > 0 for v in x):
        return "+"
    if x and all(v < 0 for v in x):
        return "-"
    if x and all(v == 0 for v in x):
        return "0"
    return "mixed"


def summarize_cells(cells_by_seed: Mapping[int, pd.DataFrame], confidence: float = 0.95) -> pd.DataFrame:
    """Across-seed summary of ``table_cells`` frames (one per seed), in the first seed's row order;
    a cell some seeds lack (a knowledge category no test item fell in) keeps the seeds that have it."""
    seeds = sorted(cells_by_seed)
    order: dict[tuple[str, str], None] = {}
    values: dict[tuple[str, str], dict[int, float]] = {}
    for seed in seeds:
        for key, column, value in cells_by_seed[seed][["key", "column", "value"]].itertuples(index=False):
            order.setdefault((key, column))
            values.setdefault((key, column), {})[seed] = value
    rows = []
    for key, column in order:
        per_seed = values[(key, column)]
        present = [per_seed[s] for s in seeds if s in per_seed and not math.isnan(per_seed[s])]
        low, high = t_interval(present, confidence)
        row = {"key": key, "column": column, "n_seeds": len(present)}
        row.update({f"seed_{s}": per_seed.get(s, float("nan")) for s in seeds})
        row.update(
            mean=float(np.mean(present)) if present else float("nan"),
            sd=float(np.std(present, ddof=1)) if len(present) > 1 else float("nan"),
            min=min(present, default=float("nan")),
            max=max(present, default=float("nan")),
            t_low=low,
            t_high=high,
            sign=sign_over_seeds(present),
        )
        rows.append(row)
    return pd.DataFrame(rows)


# ---- pooled paired tests ------------------------------------------------------------------------
def paired_items(predictions: pd.DataFrame, comparison: PairedComparison) -> dict[tuple[str, str, str], tuple]:
    """Per (model, dataset, test subset): the 0/1 scores of both sides on the items both scored,
    aligned by item id; subsets are ``all`` and ``test-<category>`` (the base model's probe)."""
    out = {}
    for (model, dataset), group in predictions.groupby(["model", "dataset"], sort=True):
        side = {}
        for tag, variant, prompt in (
            ("a", comparison.variant_a, comparison.prompt_a),
            ("b", comparison.variant_b, comparison.prompt_b),
        ):
            chosen = group[(group["variant"] == variant) & (group["prompt_mode"] == prompt)]
            side[tag] = chosen.set_index("id")
        if side["a"].empty or side["b"].empty:
            continue
        ids = sorted(set(side["a"].index) & set(side["b"].index))
        a = side["a"].loc[ids, "correct"].astype(float).to_numpy()
        b = side["b"].loc[ids, "correct"].astype(float).to_numpy()
        categories = (
            side["a"].loc[ids, "category"].to_numpy() if "category" in side["a"] else np.array([None] * len(ids))
        )
        ids = np.array(ids, dtype=object)
        out[(model, dataset, "all")] = (a, b, ids)
        for category in sorted({c for c in categories if isinstance(c, str)}):
            mask = categories == category
            out[(model, dataset, f"test-{category}")] = (a[mask], b[mask], ids[mask])
    return out


def per_item_means(values: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    """One value per distinct item, the mean of its values, in the order items first appear (so with
    no repeated item the values come back unchanged)."""
    frame = pd.DataFrame({"id": item_ids, "value": values})
    return frame.groupby("id", sort=False)["value"].mean().to_numpy()


def pooled_paired_tests(
    predictions_by_seed: Mapping[int, pd.DataFrame],
    comparisons: Sequence[PairedComparison],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (comparison, model, dataset, subset): the per-seed mean differences, and the
    difference over every seed's items pooled, with a bootstrap interval and a paired t-test."""
    from scipy import stats

    from factgap.stats import bootstrap_mean

    seeds = sorted(predictions_by_seed)
    rows = []
    for comparison in comparisons:
        per_seed = {s: paired_items(predictions_by_seed[s], comparison) for s in seeds}
        cells = list(dict.fromkeys(cell for s in seeds for cell in per_seed[s]))
        for model, dataset, subset in cells:
            parts = {s: per_seed[s][(model, dataset, subset)] for s in seeds if (model, dataset, subset) in per_seed[s]}
            pairs = np.concatenate([p[0] - p[1] for p in parts.values()])
            if pairs.size == 0:
                continue
            item_ids = np.concatenate([p[2] for p in parts.values()])
            diffs = per_item_means(pairs, item_ids)
            pooled = bootstrap_mean(diffs, n_resamples, confidence, seed)
            t, p = (
                (float("nan"), float("nan"))
                if diffs.size < 2 or np.all(diffs == diffs[0])
                else tuple(float(x) for x in stats.ttest_1samp(diffs, 0.0))
            )
            seed_diffs = {
                s: float(np.mean(parts[s][0] - parts[s][1])) if s in parts and parts[s][0].size else float("nan")
                for s in seeds
            }
            row = {
                "comparison": comparison.name,
                "model": model,
                "dataset": dataset,
                "test_subset": subset,
                "n_seeds": len(parts),
                "n_items": int(diffs.size),
                "n_pairs": int(pairs.size),
            }
            row.update({f"seed_{s}": d for s, d in seed_diffs.items()})
            row.update(pooled.as_dict("diff"))
            row.update(t=t, p=p, sign=sign_over_seeds(list(seed_diffs.values())))  # nan (no items) is skipped
            rows.append(row)
    return pd.DataFrame(rows)


# ---- the file shell -------------------------------------------------------------------------------
# Cells the figure shows per table (the CSV has every cell): estimate columns, on every test item.
HEADLINE_COLUMNS = {
    "s1_training_dynamics": ("dev_em",),
    "s1_category_accuracy": ("em",),
    "s2_factuality_gap": ("known_em", "unknown_em", "gap"),
    "s2_icl_gains": ("four_shot_gain",),
    "s2_popularity": ("gap",),
}
WHOLE_TEST = ("test_subset=all", "testset=test")


def headline_cells(cells: pd.DataFrame) -> pd.DataFrame:
    keep = [
        column in HEADLINE_COLUMNS.get(table, ()) and ("test_subset=" not in key or any(w in key for w in WHOLE_TEST))
        for table, key, column in zip(cells["table"], cells["key"], cells["column"])
    ]
    return cells[keep]


def short_key(key: str, keys: Sequence[str]) -> str:
    """``key`` without the parts every key shares (one model, one dataset) and the whole-test subset."""
    parts = [set(k.split(KEY_SEPARATOR)) for k in keys]
    shared = set.intersection(*parts) if parts else set()
    kept = [p for p in key.split(KEY_SEPARATOR) if p not in shared and p not in WHOLE_TEST]
    return KEY_SEPARATOR.join(p.split("=", 1)[1] for p in kept) or "all"


def plot_seeds(cells: pd.DataFrame, paired: pd.DataFrame, seeds: Sequence[int], title: str, png_path) -> None:
    """Per headline cell and pooled comparison (whole test set): each seed's value, and the mean
    (cells: t-interval over seeds; comparisons: pooled difference with its bootstrap interval)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from factgap.reports.common import finish_figure

    head = headline_cells(cells)
    whole = paired[paired["test_subset"] == "all"] if not paired.empty else paired
    panels = [
        (f"{t}: {c} ({short_key(k, head['key'])})", r)
        for t, k, c, r in zip(head["table"], head["key"], head["column"], head.to_dict("records"))
    ]
    pairs = [(f"{r['comparison']} ({r['model']}/{r['dataset']})", r) for r in whole.to_dict("records")]
    n_rows = max(1, len(panels), len(pairs))
    fig, axes = plt.subplots(1, 2, figsize=(13, 1.2 + 0.28 * n_rows), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, items, low, high, mean, label in (
        (axes[0][0], panels, "t_low", "t_high", "mean", "table cells (%)"),
        (axes[0][1], pairs, "diff_low", "diff_high", "diff", "pooled paired difference (points)"),
    ):
        for y, (_, row) in enumerate(items):
            for i, s in enumerate(seeds):
                value = row.get(f"seed_{s}", float("nan"))
                ax.plot(value * 100, y + 0.15, "o", ms=4, color=colors(i), label=f"seed {s}" if y == 0 else None)
            err = [[(row[mean] - row[low]) * 100], [(row[high] - row[mean]) * 100]]
            ax.errorbar(
                row[mean] * 100,
                y - 0.15,
                xerr=None if math.isnan(row[low]) else err,
                fmt="D",
                color="black",
                ms=5,
                capsize=3,
                label="mean" if y == 0 else None,
            )
        ax.set_yticks(range(len(items)), [name for name, _ in items], fontsize=7)
        ax.invert_yaxis()
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_xlabel(label)
        if items:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "none", ha="center", transform=ax.transAxes)
    finish_figure(fig, title, png_path, tight=True)


def display_cells(cells: pd.DataFrame, seeds: Sequence[int]) -> pd.DataFrame:
    def pct(v):  # the tables' own units (fractions for accuracies, points for counts, t, p)
        return "n/a" if math.isnan(v) else f"{v:.3g}"

    out = cells[["table", "key", "column"]].copy()
    for s in seeds:
        out[f"seed {s}"] = [pct(v) for v in cells[f"seed_{s}"]]
    out["mean [t-interval]"] = [
        f"{pct(m)} [{pct(lo)}, {pct(hi)}]" for m, lo, hi in zip(cells["mean"], cells["t_low"], cells["t_high"])
    ]
    out["min-max"] = [f"{pct(a)}-{pct(b)}" for a, b in zip(cells["min"], cells["max"])]
    out["sign"] = cells["sign"]
    return out


def display_paired(paired: pd.DataFrame, seeds: Sequence[int]) -> pd.DataFrame:
    from factgap.reports.common import fmt_ci

    if paired.empty:
        return pd.DataFrame(columns=["comparison"])
    out = paired[["comparison", "model", "dataset", "test_subset", "n_items"]].copy()
    for s in seeds:
        out[f"seed {s}"] = ["n/a" if math.isnan(v) else f"{v * 100:+.1f}" for v in paired[f"seed_{s}"]]
    out["pooled"] = [fmt_ci(v, lo, hi) for v, lo, hi in zip(paired["diff"], paired["diff_low"], paired["diff_high"])]
    out["p (paired t)"] = ["n/a" if math.isnan(p) else f"{p:.2g}" for p in paired["p"]]
    out["sign"] = paired["sign"]
    return out


def summarize_seeds_files(
    study: str,
    seeds: Sequence[int],
    tables: Mapping[int, Mapping[str, str]],
    predictions: Mapping[int, tuple[Sequence[str], Sequence[Mapping[str, str]]]],
    comparisons: Sequence[PairedComparison],
    science: Mapping,
    n_resamples: int,
    confidence: float,
    outputs: Mapping[str, str],
) -> dict:
    """Read each seed's report CSVs (``tables[seed][name]``) and 0-shot/k-shot predictions, write
    the across-seed cells (csv), the pooled paired tests (paired_csv), their Markdown, provenance
    and the figure."""
    from factgap.io import provenance, write_json, write_text
    from factgap.reports.common import load_predictions, markdown_table

    seeds = sorted(seeds)
    missing = sorted({s for s in seeds} - set(tables))
    if missing:
        raise ValueError(f"no tables for seeds {missing}: run them first (make seeds)")
    names = list(tables[seeds[0]])
    frames = []
    for name in names:
        cells = {s: table_cells(pd.read_csv(tables[s][name]), f"{tables[s][name]}") for s in seeds}
        frames.append(summarize_cells(cells, confidence).assign(table=name))
    cells = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["table", "key", "column"])
    cells = cells[["table", *[c for c in cells.columns if c != "table"]]]
    paired = (
        pooled_paired_tests({s: load_predictions(*predictions[s]) for s in seeds}, comparisons, n_resamples, confidence)
        if comparisons
        else pd.DataFrame(columns=["test_subset"])
    )
    write_text(cells.to_csv(index=False, float_format="%.6g"), outputs["csv"])
    write_text(paired.to_csv(index=False, float_format="%.6g"), outputs["paired_csv"])
    title = f"{study.upper()} over seeds {', '.join(map(str, seeds))}"
    notes = (
        "Cells: every estimate of every table in its own units (accuracies as fractions), per seed, their "
        "mean with a Student-t interval over seeds and min-max; sign '+'/'-' = the same sign on every seed. "
        "Pooled (in points): the paired difference over the items of every seed together "
        f"({confidence:.0%} bootstrap interval, {n_resamples} resamples; paired t-test), the seeds' test "
        "items being different draws."
    )
    record = provenance(science, {f"table:{s}:{n}": p for s in seeds for n, p in tables[s].items()})
    md = (
        f"# {title}\n\n## Pooled paired tests\n\n{markdown_table(display_paired(paired, seeds))}\n\n"
        f"## Table cells\n\n{markdown_table(display_cells(cells, seeds))}\n\n{notes}\n"
    )
    write_text(md, outputs["md"])
    write_json(record, outputs["provenance"])
    plot_seeds(cells, paired, seeds, title, outputs["png"])
    log.info("%s: %d cells over seeds %s, %d pooled comparisons", study, len(cells), seeds, len(paired))
    return {"cells": len(cells), "paired": len(paired)}
