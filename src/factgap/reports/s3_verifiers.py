"""S3: how far each verifier can be trusted: accuracy and ROC AUC on the labelled claim set (true
slot values vs another person's value; test part, the llm threshold calibrated on the dev part), and
on the bios' facts the share supported and the agreement with the primary verifier."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.factscore.pipeline import verifier_summary
from factgap.reports.common import Report, ReportInputs, describe_groups, finish_figure, percent

TITLE = "S3: verifier accuracy on the labelled claim set and agreement on the bios' facts"
PAPER_FINDING = (
    "This check is not in Yuan et al. 2024: it tests the local judges this project uses in place of theirs. The "
    "paper scores bios with FActScore and takes its verdicts as given, so its in-domain results assume that judge "
    "is accurate."
)
MAX_MODELS = 3


def cohen_kappa(a: list[bool], b: list[bool]) -> float:
    """Agreement beyond chance of two binary raters (NaN when chance agreement is 1)."""
    n = len(a)
    if n == 0 or n != len(b):
        return float("nan")
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    chance = pa * pb + (1 - pa) * (1 - pb)
    return float("nan") if chance == 1 else (observed - chance) / (1 - chance)


def build_table(claims: pd.DataFrame, verdicts: pd.DataFrame, primary: str) -> pd.DataFrame:
    rows = []
    for (model, verifier), group in claims.groupby(["model", "verifier"], sort=True):
        row = {"model": model, "verifier": verifier}
        for split in ("dev", "test"):
            summary = verifier_summary(group[group["split"] == split].to_dict("records"))
            row.update(
                {
                    f"{split}_claims": summary["n"],
                    f"{split}_accuracy": summary["accuracy"],
                    f"{split}_auc": summary["auc"],
                }
            )
        facts = verdicts[(verdicts["model"] == model) & (verdicts["verifier"] == verifier)]
        ref = verdicts[(verdicts["model"] == model) & (verdicts["verifier"] == primary)].set_index("fact_id")[
            "supported"
        ]
        mine = facts.set_index("fact_id")["supported"]
        common = mine.index.intersection(ref.index)
        a, b = mine.loc[common].astype(bool).tolist(), ref.loc[common].astype(bool).tolist()
        row.update(
            {
                "bio_facts": len(facts),
                "bio_supported": float(mine.mean()) if len(mine) else float("nan"),
                "agreement_with_primary": sum(x == y for x, y in zip(a, b)) / len(a) if a else float("nan"),
                "kappa_with_primary": cohen_kappa(a, b),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [f"{m}\n{v}" for m, v in zip(table["model"], table["verifier"])]
    x = range(len(table))
    ax.bar([i - 0.2 for i in x], table["test_accuracy"], width=0.4, label="accuracy (test claims)")
    ax.bar([i + 0.2 for i in x], table["test_auc"], width=0.4, label="ROC AUC (test claims)")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(list(x), labels)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path, tight=True)


def _num(value) -> str:
    return "n/a" if pd.isna(value) else f"{value:.2f}"


def _describe_verifier(row) -> str:
    return (
        f"{row['verifier']} is right on {percent(row['test_accuracy'])} of {row['test_claims']} test claims (AUC "
        f"{_num(row['test_auc'])}), finds {percent(row['bio_supported'])} of {row['bio_facts']} bio facts supported "
        f"and agrees with the primary verifier on {percent(row['agreement_with_primary'])} of them (kappa "
        f"{_num(row['kappa_with_primary'])})"
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: each verifier's accuracy on the test claims and its agreement on the bios' facts."""
    if table.empty:
        return "No verifier results."
    return describe_groups(
        table,
        "model",
        lambda model, rows: f"{model}: " + "; ".join(_describe_verifier(row) for _, row in rows.iterrows()) + ".",
        MAX_MODELS,
    )


def build(inputs: ReportInputs, primary: str) -> Report:
    table = build_table(inputs.frame("claims"), inputs.frame("verdicts"), primary)
    if table.empty:
        raise ValueError("no verifier results")
    shown = table.copy()
    for col in [c for c in table.columns if c.endswith(("_accuracy", "_auc", "supported", "_primary"))]:
        shown[col] = [f"{v:.3f}" if v == v else "" for v in table[col]]
    notes = (
        "Claims: for each person and slot with a known value, the true statement and the same slot filled with "
        "another person's value (balanced). Verifiers see only the person's knowledge texts, not the structured "
        "slots the claims were made from. The llm threshold on log P(True) - log P(False) is calibrated on the "
        f"dev claims; the test columns are the honest ones. Agreement and Cohen's kappa with '{primary}' (the "
        "verifier behind the FActScore) on the facts of the test bios."
    )
    return Report(table, shown, TITLE, notes, partial(plot, table), finding=describe(table))
