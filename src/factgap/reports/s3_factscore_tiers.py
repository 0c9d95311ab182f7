"""S3: FActScore of the model's bios per popularity tier (greedy responses of the test people), with
and without FActScore's length penalty, and the most popular minus the rarest tier."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.reports.common import Report, ReportInputs, add_ci_columns, finish_figure
from factgap.reports.s3_common import tier_order
from factgap.stats import bootstrap_mean, bootstrap_unpaired_difference

TITLE = "S3: FActScore of the model's bios by popularity tier"


def build_table(scores: pd.DataFrame, verifier: str, n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    frame = scores[(scores["verifier"] == verifier) & (scores["sample"] == -1)]
    rows = []
    for (model, variant), group in frame.groupby(["model", "variant"], sort=True):
        tiers = tier_order(group["tier"])
        answered = {t: group[(group["tier"] == t) & ~group["abstained"]] for t in tiers}
        for tier in [*tiers, "all"]:
            part = group if tier == "all" else group[group["tier"] == tier]
            ok = part[~part["abstained"]]
            row = {"model": model, "variant": variant, "tier": tier, "people": len(part),
                   "abstained": int(part["abstained"].sum()),
                   "facts_per_response": float(ok["n_facts"].mean()) if len(ok) else float("nan")}
            row.update(bootstrap_mean(ok["score"], n_resamples, confidence, seed).as_dict("factscore"))
            row.update(bootstrap_mean(ok["score_lp"], n_resamples, confidence, seed).as_dict("factscore_lp"))
            rows.append(row)
        if len(tiers) > 1:
            top, rare = answered[tiers[0]], answered[tiers[-1]]
            row = {"model": model, "variant": variant, "tier": f"{tiers[0]} - {tiers[-1]}",
                   "people": len(top) + len(rare), "abstained": 0, "facts_per_response": float("nan")}
            for key, name in (("score", "factscore"), ("score_lp", "factscore_lp")):
                row.update(bootstrap_unpaired_difference(top[key].to_numpy(float), rare[key].to_numpy(float),
                                                         n_resamples, confidence, seed).as_dict(name))
            rows.append(row)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    tiers = table[~table["tier"].str.contains(" - ") & (table["tier"] != "all")]
    fig, ax = plt.subplots(figsize=(6, 4))
    for offset, (key, label) in zip((-0.2, 0.2), (("factscore", "FActScore"), ("factscore_lp", "with length penalty"))):
        for i, (_, row) in enumerate(tiers.iterrows()):
            ax.bar(i + offset, 100 * row[key], width=0.4, color="C0" if offset < 0 else "C1",
                   label=label if i == 0 else None)
            ax.errorbar(i + offset, 100 * row[key], yerr=[[100 * (row[key] - row[f"{key}_low"])],
                                                          [100 * (row[f"{key}_high"] - row[key])]], color="k", capsize=3)
    ax.set_xticks(range(len(tiers)), [f"{t}\n(n={n})" for t, n in zip(tiers["tier"], tiers["people"])])
    ax.set_ylabel("FActScore (%)")
    ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path, tight=True)


def build(inputs: ReportInputs, verifier: str, n_resamples: int, confidence: float, seed: int) -> Report:
    table = build_table(inputs.frame("scores"), verifier, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError(f"no greedy bios scored by verifier {verifier!r}")
    shown = add_ci_columns(table[["model", "variant", "tier", "people", "abstained"]].copy(), table,
                           ["factscore", "factscore_lp"])
    shown["facts_per_response"] = [f"{v:.1f}" if v == v else "" for v in table["facts_per_response"]]
    notes = (f"FActScore = share of a response's atomic facts that the '{verifier}' verifier finds supported by the "
             "person's knowledge; in % with 95% bootstrap intervals over people; tiers from most to least popular. "
             "'with length penalty': times exp(1 - gamma/n) for responses with n < gamma facts. A response with no "
             "fact is an abstention, left out of the means. The last row: most popular minus rarest tier.")
    return Report(table, shown, TITLE, notes, partial(plot, table))
