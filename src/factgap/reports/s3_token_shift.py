"""S3 diagnosis: token distribution shift (AlignTDS, Lin et al. 2023) of each tuned variant's greedy
answers, ranked token by token under the base model: unshifted (rank 1), marginal (2..k), shifted.
Under-alignment shows as a shifted share out of domain far below the one in domain."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from factgap.preference.token_shift import KINDS
from factgap.reports.common import Report, ReportInputs, add_ci_columns, finish_figure

TITLE = "S3: token distribution shift of the tuned models, in vs out of domain"


def ratio_ci(counts: np.ndarray, totals: np.ndarray, n_resamples: int, confidence: float, seed: int):
    """Pooled token share sum(counts)/sum(totals) with a bootstrap CI over responses."""
    if totals.sum() == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(totals), size=(n_resamples, len(totals)))
    shares = counts[idx].sum(axis=1) / np.maximum(totals[idx].sum(axis=1), 1)
    alpha = (1 - confidence) / 2
    return float(counts.sum() / totals.sum()), float(np.quantile(shares, alpha)), float(np.quantile(shares, 1 - alpha))


def build_table(shifts: pd.DataFrame, n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    rows = []
    for (model, variant, domain), group in shifts.groupby(["model", "variant", "domain"], sort=True):
        totals = group["n_tokens"].to_numpy(float)
        row = {"model": model, "variant": variant, "domain": domain, "responses": len(group),
               "tokens": int(totals.sum())}
        for kind in KINDS:
            value, low, high = ratio_ci(group[f"n_{kind}"].to_numpy(float), totals, n_resamples, confidence, seed)
            row.update({kind: value, f"{kind}_low": low, f"{kind}_high": high})
        rows.append(row)
    table = pd.DataFrame(rows)
    if {"in_domain", "out_of_domain"} <= set(table.get("domain", [])):
        shifted = table.pivot_table(index=["model", "variant"], columns="domain", values="shifted")
        ratio = (shifted["out_of_domain"] / shifted["in_domain"]).rename("ood_over_id_shifted")
        table = table.merge(ratio.reset_index(), on=["model", "variant"], how="left")
    return table


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    labels = [f"{v}\n{d.replace('_', ' ')}" for v, d in zip(table["variant"], table["domain"])]
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(table)), 4))
    bottom = np.zeros(len(table))
    for k, kind in enumerate(KINDS):
        values = 100 * table[kind].to_numpy(float)
        ax.bar(range(len(table)), values, bottom=bottom, color=f"C{k}", label=kind)
        bottom += values
    ax.set_xticks(range(len(table)), labels, rotation=90, fontsize=6)
    ax.set_ylabel("share of tokens (%)")
    ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path, tight=True)


def build(inputs: ReportInputs, marginal_max: int, n_resamples: int, confidence: float, seed: int) -> Report:
    table = build_table(inputs.frame("shifts"), n_resamples, confidence, seed)
    if table.empty:
        raise ValueError("no token-shift rows")
    shown = add_ci_columns(table[["model", "variant", "domain", "responses", "tokens"]].copy(), table, KINDS)
    if "ood_over_id_shifted" in table:
        shown["ood/id shifted"] = [f"{v:.2f}" if v == v else "" for v in table["ood_over_id_shifted"]]
    notes = (f"Each token of a tuned variant's greedy answer ranked in the base model's next-token distribution "
             f"given the same prefix: rank 1 unshifted, 2-{marginal_max} marginal, higher shifted (AlignTDS). Shares of "
             "all tokens in %, 95% bootstrap CIs over answers. in domain: the test people's bios; out of domain: the "
             "topic answers. APEFT's under-alignment sign: out-of-domain shifted share below a third of in-domain. "
             "Answers are re-tokenised from their text, which can differ from the generated ids at a boundary.")
    return Report(table, shown, TITLE, notes, partial(plot, table))
