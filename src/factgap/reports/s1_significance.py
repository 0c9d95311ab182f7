"""S1 significance test (Gekhman et al. 2024): paired t-test over test-set chunks.

The test items (sorted by id, then shuffled with a seeded generator) are split into ``n_chunks``
chunks (fewer when there are fewer items); the exact match of both models on each chunk gives
paired samples for scipy's ``ttest_rel``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd

from factgap.naming import describe_variant
from factgap.reports.common import Report, ReportInputs, describe_groups, finish_figure, variant_pairs

TITLE = "Paired t-test over test chunks (0-shot exact match)"
ALPHA = 0.05
PAPER_FINDING = (
    "Gekhman et al. 2024 check the significance of their accuracy differences with a paired t-test over the test set "
    "split into 100 chunks. Their conclusions rest on two such differences: the accuracy lost between early stop and "
    "convergence once Unknown examples are fitted, and the advantage of Known- over Unknown-heavy fine-tuning."
)
MAX_GROUPS = 3
MAX_LISTED = 3


def chunk_accuracies(
    ids: Sequence[str], correct_a, correct_b, n_chunks: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``correct_a`` and ``correct_b`` per chunk of the items (same chunks for both)."""
    ids = np.asarray(ids, dtype=object)
    a, b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    if not (len(ids) == len(a) == len(b)):
        raise ValueError(f"ids, a and b differ in length: {len(ids)}, {len(a)}, {len(b)}")
    if len(ids) == 0:
        raise ValueError("no test items to split into chunks")
    if len(set(ids.tolist())) != len(ids):
        raise ValueError("test item ids are not unique")
    if n_chunks < 1:
        raise ValueError(f"n_chunks must be positive, got {n_chunks}")
    order = np.argsort(ids.astype(str), kind="stable")
    order = order[np.random.default_rng(seed).permutation(len(order))]
    chunks = np.array_split(order, min(n_chunks, len(order)))
    return np.array([a[c].mean() for c in chunks]), np.array([b[c].mean() for c in chunks])


def paired_t_test(x, y) -> tuple[float, float]:
    """scipy.stats.ttest_rel(x, y), with the degenerate cases made explicit: identical samples give
    t = 0, p = 1; a constant non-zero difference gives t = +-inf, p = 0."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {len(x)}")
    d = x - y
    if np.all(d == d[0]):
        return (0.0, 1.0) if d[0] == 0 else (float(np.copysign(np.inf, d[0])), 0.0)
    res = stats.ttest_rel(x, y)
    return float(res.statistic), float(res.pvalue)


def build_table(predictions: pd.DataFrame, comparisons, n_chunks: int, seed: int) -> pd.DataFrame:
    """One row per (model, dataset, comparison) present in the predictions."""
    rows = []
    for model, dataset, (variant_a, variant_b), a, b in variant_pairs(predictions, comparisons):
        if list(a["id"]) != list(b["id"]):
            raise ValueError(f"{model}/{dataset}: {variant_a} and {variant_b} cover different test items")
        chunk_a, chunk_b = chunk_accuracies(
            a["id"].to_numpy(), a["correct"].to_numpy(), b["correct"].to_numpy(), n_chunks, seed
        )
        t, p = paired_t_test(chunk_a, chunk_b)
        em_a, em_b = float(a["correct"].mean()), float(b["correct"].mean())
        rows.append(
            {
                "model": model,
                "dataset": dataset,
                "variant_a": variant_a,
                "variant_b": variant_b,
                "em_a": em_a,
                "em_b": em_b,
                "diff": em_a - em_b,
                "t": t,
                "p": p,
                "n_chunks": len(chunk_a),
                "n_items": len(a),
            }
        )
    return pd.DataFrame(rows)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table[["model", "dataset", "variant_a", "variant_b"]].copy()
    out["EM a"] = [f"{100 * v:.1f}" for v in table["em_a"]]
    out["EM b"] = [f"{100 * v:.1f}" for v in table["em_b"]]
    out["a - b"] = [f"{100 * v:+.1f}" for v in table["diff"]]
    out["t"] = [f"{v:.2f}" for v in table["t"]]
    out["p"] = [f"{v:.3g}" + (" *" if v < ALPHA else "") for v in table["p"]]
    out["chunks"] = table["n_chunks"]
    out["items"] = table["n_items"]
    return out


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(table.groupby(["model", "dataset"], sort=True))
    fig, axes = plt.subplots(
        1, max(1, len(groups)), figsize=(6 * max(1, len(groups)), 0.5 * len(table) + 2.5), squeeze=False
    )
    for ax, ((model, dataset), group) in zip(axes[0], groups):
        y = list(range(len(group)))[::-1]
        significant = group["p"] < ALPHA
        colors = ["tab:red" if s else "tab:grey" for s in significant]
        ax.barh(y, group["diff"] * 100, color=colors)
        for yi, d, s in zip(y, group["diff"] * 100, significant):
            if s:
                ax.plot(d, yi, marker="*", color="black", markersize=10)
        ax.axvline(0, color="black", linewidth=0.8)
        labels = [
            f"{describe_variant(a)}\nvs {describe_variant(b)}" for a, b in zip(group["variant_a"], group["variant_b"])
        ]
        ax.set_yticks(y, labels, fontsize=7)
        ax.set_xlabel("exact-match difference a - b (points); * p < 0.05")
        ax.set_title(f"{model} / {dataset}", fontsize=9)
    finish_figure(fig, TITLE, png_path, tight=True)


def _comparison(row) -> str:
    diff = "n/a" if pd.isna(row["diff"]) else f"{100 * row['diff']:+.1f}"
    p = "n/a" if pd.isna(row["p"]) else f"{row['p']:.2g}"
    return f"{row['variant_a']} vs {row['variant_b']} {diff} (p = {p})"


def _listed(rows: pd.DataFrame) -> str:
    text = ", ".join(_comparison(r) for _, r in rows.iloc[:MAX_LISTED].iterrows())
    return text + (f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else "")


def _describe_group(model, dataset, group: pd.DataFrame) -> str:
    significant = group["p"] < ALPHA  # a NaN p counts as not significant
    sig, rest = group[significant], group[~significant]
    text = (
        f"{model}/{dataset}: {len(sig)} of {len(group)} comparisons differ at p < {ALPHA} (a - b in exact-match points)"
    )
    text += f": {_listed(sig)}" if len(sig) else ""
    text += f"; not significant: {_listed(rest)}" if len(rest) else ""
    return text + "."


def describe(table: pd.DataFrame) -> str:
    """What this run found: which comparisons are significant, with their differences and p-values."""
    if table.empty:
        return "No comparison was tested."
    return describe_groups(table, ["model", "dataset"], lambda key, rows: _describe_group(*key, rows), MAX_GROUPS)


def build(inputs: ReportInputs, comparisons, n_chunks: int, seed: int) -> Report:
    """The S1 significance table."""
    if not comparisons:
        raise ValueError("no (variant_a, variant_b) comparisons given")
    comparisons = [list(c) for c in comparisons]
    table = build_table(inputs.frame("predictions"), comparisons, n_chunks, seed)
    if table.empty:
        raise ValueError(
            f"none of the comparisons {list(map(tuple, comparisons))} has both variants among the "
            "0-shot in-distribution test predictions"
        )
    notes = (
        f"Test items sorted by id, shuffled (seed {seed}) and split into up to {n_chunks} chunks; exact match per "
        "chunk for both variants; paired t-test (scipy.stats.ttest_rel) over chunks, as in Gekhman et al. 2024. "
        f"* p < {ALPHA}. EM in %, over all test items."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
