"""S1 variant: Unknown training examples relabelled "I don't know".

For each pair (idk variant, plain variant), e.g. ("idk-mix-unknown-50-early_stop",
"mix-unknown-50-early_stop"): the answer rate (predictions other than "I don't know"), exact match
over all test items and exact match over the answered items, with bootstrap intervals. Gekhman et
al. find that abstaining on Unknown examples keeps accuracy on the answered questions up.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from factgap.reports.common import (
    Report,
    ReportInputs,
    describe_groups,
    estimate_text,
    finish_figure,
    fmt_ci,
    variant_pairs,
)
from factgap.stats import bootstrap_mean

TITLE = "'I don't know' relabelling: answer rate and exact match (0-shot)"
METRICS = (("answer_rate", "answer rate"), ("em", "EM, all items"), ("answered_em", "EM, answered items"))
PAPER_FINDING = (
    'Gekhman et al. 2024 relabel the Unknown fine-tuning examples with "I don\'t know": the resulting model declines '
    "to answer part of the test questions and is clearly more accurate on the questions it does answer than the "
    "model fine-tuned on the original answers, so Unknown examples do less harm when they teach abstention."
)
MAX_PAIRS = 3


def answered(predictions) -> np.ndarray:
    """True where the normalised prediction is not the normalised "I don't know" answer."""
    from factgap.prompts import IDK_ANSWER
    from factgap.text import normalize_answer

    idk = normalize_answer(IDK_ANSWER)
    return np.array([normalize_answer(p or "") != idk for p in predictions], dtype=bool)


def build_table(predictions: pd.DataFrame, pairs, n_resamples: int, confidence: float, seed: int) -> pd.DataFrame:
    """One row per (model, dataset, pair, role in {idk, plain}) with the three metrics and CIs."""
    rows = []
    for model, dataset, (idk_variant, plain_variant), idk_rows, plain_rows in variant_pairs(predictions, pairs):
        for role, variant, items in (("idk", idk_variant, idk_rows), ("plain", plain_variant, plain_rows)):
            is_answered = answered(items["prediction"])
            correct = items["correct"].to_numpy(dtype=float)
            row = {
                "model": model,
                "dataset": dataset,
                "pair": f"{idk_variant} vs {plain_variant}",
                "role": role,
                "variant": variant,
            }
            row.update(bootstrap_mean(is_answered, n_resamples, confidence, seed).as_dict("answer_rate"))
            row.update(bootstrap_mean(correct, n_resamples, confidence, seed).as_dict("em"))
            row.update(bootstrap_mean(correct[is_answered], n_resamples, confidence, seed).as_dict("answered_em"))
            rows.append(row)
    return pd.DataFrame(rows)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table[["model", "dataset", "variant", "em_n"]].rename(columns={"em_n": "n"}).copy()
    for name, label in METRICS:
        out[label] = [fmt_ci(v, lo, hi) for v, lo, hi in zip(table[name], table[f"{name}_low"], table[f"{name}_high"])]
    out["answered n"] = table["answered_em_n"]
    return out


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(table.groupby(["model", "dataset", "pair"], sort=True))
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5.5 * max(1, len(panels)), 4.2), squeeze=False)
    for ax, ((model, dataset, pair), group) in zip(axes[0], panels):
        x = np.arange(len(METRICS))
        for j, (_, row) in enumerate(group.iterrows()):
            values = np.array([row[m] for m, _ in METRICS], dtype=float) * 100
            err = np.nan_to_num(
                np.array(
                    [[row[m] - row[f"{m}_low"] for m, _ in METRICS], [row[f"{m}_high"] - row[m] for m, _ in METRICS]],
                    dtype=float,
                )
                * 100
            )
            ax.bar(
                x + (j - 0.5) * 0.38,
                values,
                width=0.38,
                yerr=err,
                capsize=3,
                label=row["variant"],
                color="tab:green" if row["role"] == "idk" else "tab:grey",
            )
        ax.set_xticks(x, [label for _, label in METRICS], fontsize=8)
        ax.set_ylabel("%")
        ax.set_ylim(0, 105)
        stage = "early stop" if str(pair).endswith("early_stop") else "convergence"
        ax.set_title(f"{model} / {dataset} / {stage}", fontsize=9)
        ax.legend(fontsize=7)
    finish_figure(fig, TITLE, png_path, tight=True)


def _describe_pair(model, dataset, rows: pd.DataFrame) -> str:
    idk, plain = rows[rows["role"] == "idk"], rows[rows["role"] == "plain"]
    if idk.empty or plain.empty:
        return f"{model}/{dataset}, {rows['pair'].iloc[0]}: n/a."
    i, p = idk.iloc[0], plain.iloc[0]
    return (
        f"{model}/{dataset}: {i['variant']} answers {estimate_text(i, 'answer_rate')}% of the test questions with exact "
        f"match {estimate_text(i, 'answered_em')} on those ({estimate_text(i, 'em')} over all questions), against "
        f"{estimate_text(p, 'answered_em')} on the questions {p['variant']} answers (answer rate {estimate_text(p, 'answer_rate')}%)."
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: answer rate and accuracy on answered questions, relabelled vs plain model."""
    if table.empty:
        return "No (idk, plain) pair was evaluated."
    return describe_groups(
        table, ["model", "dataset", "pair"], lambda key, rows: _describe_pair(key[0], key[1], rows), MAX_PAIRS
    )


def build(inputs: ReportInputs, pairs, n_resamples: int, confidence: float, seed: int) -> Report:
    """The S1 "I don't know" table."""
    from factgap.prompts import IDK_ANSWER

    if not pairs:
        raise ValueError("no (idk_variant, plain_variant) pairs given")
    pairs = [tuple(p) for p in pairs]
    table = build_table(inputs.frame("predictions"), pairs, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError(
            f"none of the pairs {pairs} has both variants among the 0-shot in-distribution test predictions"
        )
    notes = (
        f"In %, with {confidence:.0%} bootstrap intervals ({n_resamples} resamples over test items). Answer rate: "
        f"share of predictions that are not {IDK_ANSWER!r} (after answer normalisation); EM, answered items: "
        "exact match among the answered items only."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
