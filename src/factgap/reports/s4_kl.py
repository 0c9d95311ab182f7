"""S4 analysis: how far tuning moves the option distribution, KL(base k-shot || tuned 0-shot) in
nats per item, averaged per test set and variant."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.naming import BASE
from factgap.reports.common import Report, ReportInputs, finish_figure
from factgap.reports.s4_common import TESTSET_ORDER, aligned_with_base
from factgap.selfalign.analysis import kl_divergence

TITLE = "S4: KL divergence of the option distributions, base (k-shot) to tuned (0-shot)"


def build_table(joined: pd.DataFrame) -> pd.DataFrame:
    joined = joined.assign(kl=[kl_divergence(b, t) for b, t in zip(joined["probs_base"], joined["probs"])])
    table = (joined.groupby(["model", "testset", "variant"], sort=True)
             .agg(n=("id", "size"), mean_kl=("kl", "mean"), median_kl=("kl", "median"),
                  accuracy=("correct", "mean")).reset_index())
    table["order"] = [TESTSET_ORDER.index(t) if t in TESTSET_ORDER else 9 for t in table["testset"]]
    return table.sort_values(["model", "order", "variant"]).drop(columns="order").reset_index(drop=True)


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    wide = table.pivot_table(index="variant", columns="testset", values="mean_kl", sort=True)
    wide = wide[[t for t in TESTSET_ORDER if t in wide.columns]]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(wide)), 4))
    wide.plot.bar(ax=ax)
    ax.set_ylabel("mean KL (nats)")
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    finish_figure(fig, TITLE, png_path, tight=True)


def build(inputs: ReportInputs) -> Report:
    table = build_table(aligned_with_base(inputs.frame("predictions"), inputs.frame("probes")))
    if table.empty:
        raise ValueError("no predictions")
    shown = table.assign(mean_kl=[f"{v:.3f}" for v in table["mean_kl"]], median_kl=[f"{v:.3f}" for v in table["median_kl"]],
                         accuracy=[f"{100 * v:.1f}" for v in table["accuracy"]])
    notes = ("KL(base || tuned) in nats per item: base = the base model's k-shot probe distribution over the options, "
             f"tuned = the variant's 0-shot distribution (the '{BASE}' row: the base model 0-shot). Lower = the "
             "tuned model keeps the base model's beliefs.")
    return Report(table, shown, TITLE, notes, partial(plot, table))
