"""S4 analysis: how far tuning moves the option distribution, KL(base k-shot || tuned 0-shot) in
nats per item, averaged per test set and variant."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.naming import BASE
from factgap.reports.common import Report, ReportInputs, describe_groups, finish_figure
from factgap.reports.s4_common import TESTSET_ORDER, aligned_with_base
from factgap.s4.analysis import kl_divergence

TITLE = "S4: KL divergence of the option distributions, base (k-shot) to tuned (0-shot)"
PAPER_FINDING = (
    "Ren et al. 2024, Table 4: the KL divergence from the base model's in-context option distribution to the tuned "
    "model's zero-shot one is smallest for the model with the best average accuracy (0.24 / 0.16 / 0.18 for "
    "Mistral-7B / LLaMA-2-7B / LLaMA-2-13B) and larger after tuning on SELF (0.34 / 0.93 / 0.68) or INC "
    "(0.37 / 0.51 / 0.34) alone; they read it as accuracy following how well tuning preserves the base model's "
    "beliefs."
)
MAX_MODELS = 3


def build_table(joined: pd.DataFrame) -> pd.DataFrame:
    joined = joined.assign(kl=[kl_divergence(b, t) for b, t in zip(joined["probs_base"], joined["probs"])])
    table = (
        joined.groupby(["model", "testset", "variant"], sort=True)
        .agg(n=("id", "size"), mean_kl=("kl", "mean"), median_kl=("kl", "median"), accuracy=("correct", "mean"))
        .reset_index()
    )
    table["order"] = [TESTSET_ORDER.index(t) if t in TESTSET_ORDER else 9 for t in table["testset"]]
    return table.sort_values(["model", "order", "variant"]).drop(columns="order").reset_index(drop=True)


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    models = sorted(table["model"].unique())
    n_variants = table.groupby("model")["variant"].nunique().max() if len(table) else 1
    fig, axes = plt.subplots(1, len(models), figsize=(max(6, 0.9 * n_variants) * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):  # one panel per model: never an average over models
        wide = table[table["model"] == model].pivot_table(
            index="variant", columns="testset", values="mean_kl", sort=True
        )
        wide = wide[[t for t in TESTSET_ORDER if t in wide.columns]]
        wide.columns = [str(t).upper() for t in wide.columns]
        wide.plot.bar(ax=ax)
        ax.set_title(model)
        ax.set_xlabel("tuned variant")
        ax.set_ylabel("mean KL(base || tuned) (nats)")
        ax.legend(title="test set", fontsize=8)
        ax.tick_params(axis="x", labelsize=7, rotation=30)
    finish_figure(fig, TITLE, png_path, tight=True)


def _variant_kl(row) -> str:
    accuracy = "n/a" if pd.isna(row["accuracy"]) else f"{100 * row['accuracy']:.1f}%"
    return f"{row['mean_kl']:.3f} nats ({row['variant']}, accuracy {accuracy})"


def _describe_testset(testset, rows: pd.DataFrame) -> tuple[str, bool]:
    """'<TESTSET> lowest ... highest ...', and whether the most accurate tuned variant has the lowest KL."""
    tuned = rows[rows["variant"] != BASE].dropna(subset=["mean_kl"]).sort_values("mean_kl", kind="stable")
    if tuned.empty:
        return f"{str(testset).upper()} n/a", False
    low, high = tuned.iloc[0], tuned.iloc[-1]
    text = f"{str(testset).upper()} lowest {_variant_kl(low)}, highest {_variant_kl(high)}"
    scored = tuned.dropna(subset=["accuracy"])
    best_is_closest = len(scored) > 0 and low["accuracy"] == scored["accuracy"].max()
    return text, bool(best_is_closest)


def _describe_model(model, rows: pd.DataFrame) -> str:
    described = [_describe_testset(t, part) for t, part in rows.groupby("testset", sort=False)]
    n_closest = sum(closest for _, closest in described)
    return (
        f"{model}, mean KL(base || tuned) over the {rows.loc[rows['variant'] != BASE, 'variant'].nunique()} "
        "tuned variants: "
        + "; ".join(text for text, _ in described)
        + f". The most accurate tuned variant is also the closest to the base model on {n_closest} of "
        f"{len(described)} test sets."
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: the tuned variants closest to and furthest from the base model's beliefs, per test
    set, and whether the most accurate one is the closest."""
    if table.empty:
        return "No predictions."
    return describe_groups(table, "model", _describe_model, MAX_MODELS)


def build(inputs: ReportInputs) -> Report:
    table = build_table(aligned_with_base(inputs.frame("predictions"), inputs.frame("probes")))
    if table.empty:
        raise ValueError("no predictions")
    shown = table.assign(
        mean_kl=[f"{v:.3f}" for v in table["mean_kl"]],
        median_kl=[f"{v:.3f}" for v in table["median_kl"]],
        accuracy=[f"{100 * v:.1f}" for v in table["accuracy"]],
    )
    notes = (
        "KL(base || tuned) in nats per item: base = the base model's k-shot probe distribution over the options, "
        f"tuned = the variant's 0-shot distribution (the '{BASE}' row: the base model 0-shot). Lower = the "
        "tuned model keeps the base model's beliefs."
    )
    return Report(table, shown, TITLE, notes, partial(plot, table), finding=describe(table))
