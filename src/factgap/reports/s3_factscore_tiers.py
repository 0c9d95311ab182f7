"""S3: FActScore of the model's bios per popularity tier (greedy responses of the test people), with
and without FActScore's length penalty, and the most popular minus the rarest tier."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.factscore.score import tier_summary
from factgap.reports.common import Report, ReportInputs, add_ci_columns, describe_groups, estimate_text, finish_figure
from factgap.reports.s3_common import tier_order
from factgap.stats import bootstrap_unpaired_difference

TITLE = "S3: FActScore of the model's bios by popularity tier"
PAPER_FINDING = (
    "Yuan et al. 2024 do not split FActScore by popularity: they use it on the Bio test people as the in-domain "
    "measure of all their tuned models (Table 2). The FActScore authors (Min et al. 2023) found the bios of rarer "
    "people to score lower, the direction the last row of this table tests."
)
MAX_GROUPS = 3


def tier_rows(group: pd.DataFrame, key: str, n_resamples: int, confidence: float, seed: int) -> dict[str, dict]:
    """``factscore.score.tier_summary`` of one score column per tier, plus every tier pooled ("all")."""
    records = group.to_dict("records")
    per_tier = tier_summary(records, list(group["tier"]), key, n_resamples, confidence, seed)
    pooled = tier_summary(records, ["all"] * len(records), key, n_resamples, confidence, seed)
    return {**per_tier, **pooled}


def build_table(scores: pd.DataFrame, verifier: str, n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    frame = scores[(scores["verifier"] == verifier) & (scores["sample"] == -1)]
    rows = []
    for (model, variant), group in frame.groupby(["model", "variant"], sort=True):
        tiers = tier_order(group["tier"])
        summaries = {
            name: tier_rows(group, key, n_resamples, confidence, seed)
            for key, name in (("score", "factscore"), ("score_lp", "factscore_lp"))
        }
        for tier in [*tiers, "all"]:
            first = summaries["factscore"][tier]
            row = {
                "model": model,
                "variant": variant,
                "tier": tier,
                "people": first["n"],
                "abstained": first["n_abstained"],
                "facts_per_response": first["facts_per_response"],
            }
            for name, summary in summaries.items():
                s = summary[tier]
                row.update(
                    {
                        name: s["mean"],
                        f"{name}_low": s["ci_low"],
                        f"{name}_high": s["ci_high"],
                        f"{name}_n": s["n"] - s["n_abstained"],
                    }
                )
            rows.append(row)
        if len(tiers) > 1:
            answered = group[~group["abstained"]]
            top, rare = answered[answered["tier"] == tiers[0]], answered[answered["tier"] == tiers[-1]]
            row = {
                "model": model,
                "variant": variant,
                "tier": f"{tiers[0]} - {tiers[-1]}",
                "people": len(top) + len(rare),
                "abstained": 0,
                "facts_per_response": float("nan"),
            }
            for key, name in (("score", "factscore"), ("score_lp", "factscore_lp")):
                row.update(
                    bootstrap_unpaired_difference(
                        top[key].to_numpy(float), rare[key].to_numpy(float), n_resamples, confidence, seed
                    ).as_dict(name)
                )
            rows.append(row)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    tiers = table[~table["tier"].str.contains(" - ") & (table["tier"] != "all")]
    fig, ax = plt.subplots(figsize=(6, 4))
    for offset, (key, label) in zip((-0.2, 0.2), (("factscore", "FActScore"), ("factscore_lp", "with length penalty"))):
        for i, (_, row) in enumerate(tiers.iterrows()):
            ax.bar(
                i + offset,
                100 * row[key],
                width=0.4,
                color="C0" if offset < 0 else "C1",
                label=label if i == 0 else None,
            )
            ax.errorbar(
                i + offset,
                100 * row[key],
                yerr=[[100 * (row[key] - row[f"{key}_low"])], [100 * (row[f"{key}_high"] - row[key])]],
                color="k",
                capsize=3,
            )
    ax.set_xticks(range(len(tiers)), [f"{t}\n(n={n})" for t, n in zip(tiers["tier"], tiers["people"])])
    ax.set_ylabel("FActScore (%)")
    ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path, tight=True)


def _diff_text(row) -> str:
    """The tier difference in points, saying whether its interval excludes 0."""
    text = estimate_text(row, "factscore")
    if text == "n/a":
        return f"{row['tier']}: n/a"
    zero = "excludes 0" if row["factscore_low"] > 0 or row["factscore_high"] < 0 else "includes 0"
    return f"{row['tier']}: {text} points (interval {zero})"


def _describe_variant(model, variant, rows: pd.DataFrame) -> str:
    is_diff = rows["tier"].astype(str).str.contains(" - ")
    pooled = rows[rows["tier"] == "all"]
    tiers = rows[~is_diff & (rows["tier"] != "all")]
    parts = []
    if len(pooled):
        p = pooled.iloc[0]
        parts.append(
            f"FActScore {estimate_text(p, 'factscore')} over {p['people']} people ({p['abstained']} abstained), "
            f"{estimate_text(p, 'factscore_lp')} with the length penalty"
        )
    if len(tiers):
        parts.append(
            "by tier " + ", ".join(f"{r['tier']} {estimate_text(r, 'factscore')}" for _, r in tiers.iterrows())
        )
    if is_diff.any():
        parts.append(_diff_text(rows[is_diff].iloc[0]))
    return f"{model}/{variant}: " + "; ".join(parts) + "."


def describe(table: pd.DataFrame) -> str:
    """What this run found: pooled FActScore, per tier, and the most popular minus the rarest tier."""
    if table.empty:
        return "No bio was scored."
    return describe_groups(table, ["model", "variant"], lambda key, rows: _describe_variant(*key, rows), MAX_GROUPS)


def build(inputs: ReportInputs, verifier: str, n_resamples: int, confidence: float, seed: int) -> Report:
    table = build_table(inputs.frame("scores"), verifier, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError(f"no greedy bios scored by verifier {verifier!r}")
    shown = add_ci_columns(
        table[["model", "variant", "tier", "people", "abstained"]].copy(), table, ["factscore", "factscore_lp"]
    )
    shown["facts_per_response"] = [f"{v:.1f}" if v == v else "" for v in table["facts_per_response"]]
    notes = (
        f"FActScore = share of a response's atomic facts that the '{verifier}' verifier finds supported by the "
        "person's knowledge; in % with 95% bootstrap intervals over people; tiers from most to least popular. "
        "'with length penalty': times exp(1 - gamma/n) for responses with n < gamma facts. A response with no "
        "fact is an abstention, left out of the means. The last row: most popular minus rarest tier."
    )
    return Report(table, shown, TITLE, notes, partial(plot, table), finding=describe(table))
