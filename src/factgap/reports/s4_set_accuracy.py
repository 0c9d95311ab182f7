"""S4 Table 1 analogue: 0-shot accuracy of the base model and of models tuned on HAR / INC / SELF
(and INC with context) on HOMO / ID / OOD, with bootstrap intervals and the paired gaps
HAR - INC and SELF - INC over the same test items."""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.reports.common import Report, ReportInputs, add_ci_columns, describe_groups, finish_figure, fmt_ci
from factgap.reports.s4_common import TESTSET_ORDER, chance_accuracy, draw_chance, role_of
from factgap.stats import bootstrap_mean, bootstrap_paired_difference

TITLE = "S4: accuracy after tuning on harmonious / incompatible / self-aligning answers (0-shot)"
ROLES = ("base", "HAR", "INC", "SELF", "INC+context")
GAPS = (("HAR", "INC"), ("SELF", "INC"), ("INC+context", "INC"))
PAPER = "Ren et al. (mean over domains and models, HOMO/ID/OOD): HAR - INC = 11.27 / 14.58 / 14.57; SELF - INC = 5.25 / 9.78 / 6.97"
PAPER_FINDING = (
    "Ren et al. 2024, Table 1: tuning on answers the base model already gets right (HAR) beats tuning on gold "
    "answers it gets wrong (INC) by 11.27%, 14.58% and 14.57% on HOMO, ID and OOD (mean over four domains and four "
    "base models), and tuning on the model's own wrong answers (SELF) still beats INC by 5.25%, 9.78% and 6.97%. "
    "Giving INC's needed knowledge as context during training (Table 2) gains 8.16% (LLaMA-2-7B), 9.48% "
    "(LLaMA-2-13B) and 3.98% (Mistral-7B) over plain INC."
)
MAX_MODELS = 3


def build_table(
    predictions: pd.DataFrame, checkpoint: str, n_resamples: int, confidence: float, seed: int
) -> pd.DataFrame:
    frame = predictions.assign(role=[role_of(v, checkpoint) for v in predictions["variant"]])
    frame = frame[frame["role"].isin(ROLES)]
    rows = []
    for (model, testset), group in frame.groupby(["model", "testset"], sort=True):
        by_role = {r: g.sort_values("id") for r, g in group.groupby("role")}
        chance = chance_accuracy(group)
        for role in ROLES:
            if role in by_role:
                row = {"model": model, "testset": testset, "row": role, "chance": chance}
                row.update(bootstrap_mean(by_role[role]["correct"], n_resamples, confidence, seed).as_dict("acc"))
                rows.append(row)
        for a, b in GAPS:
            if a in by_role and b in by_role:
                if list(by_role[a]["id"]) != list(by_role[b]["id"]):
                    raise ValueError(f"{model}/{testset}: {a} and {b} cover different items")
                est = bootstrap_paired_difference(
                    by_role[a]["correct"].to_numpy(), by_role[b]["correct"].to_numpy(), n_resamples, confidence, seed
                )
                rows.append({"model": model, "testset": testset, "row": f"{a} - {b}", **est.as_dict("acc")})
    table = pd.DataFrame(rows)
    if not table.empty:
        table["order"] = [TESTSET_ORDER.index(t) if t in TESTSET_ORDER else 9 for t in table["testset"]]
        table = table.sort_values(["model", "order"], kind="stable").drop(columns="order").reset_index(drop=True)
    return table


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    shown = add_ci_columns(
        table[["model", "testset", "row", "acc_n"]].rename(columns={"acc_n": "n"}).copy(), table, ["acc"]
    )
    wide = shown.pivot_table(index=["model", "row"], columns="testset", values="acc", aggfunc="first", sort=False)
    wide = wide[[t for t in TESTSET_ORDER if t in wide.columns]].reset_index()
    wide.columns.name = None
    return wide


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib.pyplot as plt

    models = sorted(table["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(7 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        part = table[(table["model"] == model) & table["row"].isin(ROLES)]
        testsets = [t for t in TESTSET_ORDER if t in set(part["testset"])]
        roles = [r for r in ROLES if r in set(part["row"])]
        width = 0.8 / max(1, len(roles))
        for j, role in enumerate(roles):
            cells = part[part["row"] == role].set_index("testset").reindex(testsets)
            x = [i + (j - (len(roles) - 1) / 2) * width for i in range(len(testsets))]
            err = [(cells["acc"] - cells["acc_low"]) * 100, (cells["acc_high"] - cells["acc"]) * 100]
            ax.bar(x, cells["acc"] * 100, width=width, yerr=err, capsize=3, label=role)
        if "chance" in part:  # a uniform guess over the options, per test set
            draw_chance(ax, enumerate(part.groupby("testset")["chance"].first().reindex(testsets)))
        ax.set_xticks(range(len(testsets)), [t.upper() for t in testsets])
        ax.set_ylabel("accuracy (%)")
        ax.set_title(model)
        ax.legend(fontsize=8)
    finish_figure(fig, TITLE, png_path, tight=True)


def _gap_text(row) -> str:
    """'<TESTSET> <gap> [low, high]', saying whether the interval excludes 0."""
    text = f"{str(row['testset']).upper()} {fmt_ci(row['acc'], row['acc_low'], row['acc_high'])}"
    if pd.isna(row["acc_low"]) or pd.isna(row["acc_high"]):
        return text
    return text + (" (excludes 0)" if row["acc_low"] > 0 or row["acc_high"] < 0 else " (includes 0)")


def _describe_model(model, rows: pd.DataFrame) -> str:
    gaps = [f"{a} - {b}" for a, b in GAPS if (rows["row"] == f"{a} - {b}").any()]
    if not gaps:
        return f"{model}: no paired gap (a role is missing)."
    parts = [f"{gap} is " + ", ".join(_gap_text(r) for _, r in rows[rows["row"] == gap].iterrows()) for gap in gaps]
    return f"{model}, accuracy gaps in points: " + "; ".join(parts) + "."


def describe(table: pd.DataFrame) -> str:
    """What this run found: the paired HAR - INC, SELF - INC and INC+context - INC gaps per test set."""
    if table.empty:
        return "No predictions of HAR / INC / SELF models."
    return describe_groups(table, "model", _describe_model, MAX_MODELS)


def build(inputs: ReportInputs, checkpoint: str, n_resamples: int, confidence: float, seed: int) -> Report:
    table = build_table(inputs.frame("predictions"), checkpoint, n_resamples, confidence, seed)
    if table.empty or not table["row"].isin(["HAR", "INC", "SELF"]).any():
        raise ValueError("no predictions of HAR / INC / SELF models")
    notes = (
        f"Accuracy in %, micro-averaged over items, {confidence:.0%} bootstrap intervals ({n_resamples} "
        f"resamples); gaps are paired over the same items. Tuned models at the {checkpoint} checkpoint; "
        "the base row is the base model under the same 0-shot chat prompt. HOMO: held-out questions of the "
        f"training domain; ID: the domain's MMLU subjects; OOD: every other MMLU subject. {PAPER}."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
