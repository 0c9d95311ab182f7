"""S1 headline figure (Gekhman et al. 2024): train and dev exact match per epoch.

For one training set (the 50% Known / 50% Unknown mixture by default), after every epoch: exact
match on the Known and on the Unknown training examples (and per SliCK category of the training
examples), and on the dev set, each with a bootstrap interval over examples. Unknown examples are
fitted much later than Known ones, and dev accuracy falls as they get fitted.
"""

from __future__ import annotations

from functools import partial

import pandas as pd

from factgap.naming import CATEGORIES as CATEGORY_ORDER
from factgap.reports.common import Report, ReportInputs, describe_groups, finish_figure, fmt_ci
from factgap.stats import bootstrap_mean

TITLE = "Training dynamics: train exact match on Known / Unknown examples and dev exact match per epoch"
KEYS = ["model", "dataset", "training_set"]
PAPER_FINDING = (
    "Gekhman et al. 2024, Figure 1 (fine-tuning on 50% Known and 50% Unknown examples): the Known training examples "
    "are fitted within a few epochs but the Unknown ones only much later, and development accuracy peaks around the "
    "early-stop point and then declines as more of the Unknown examples are fitted."
)
MAX_GROUPS = 3
FITTED = 0.9  # train exact match at which a group of examples counts as fitted


def series_names(categories) -> list[str]:
    """Metric columns of the table: dev, train Known/Unknown, train per category (fixed order)."""
    present = [c for c in CATEGORY_ORDER if c in set(categories)]
    present += sorted(set(categories) - set(CATEGORY_ORDER))
    return ["dev_em", "train_known_em", "train_unknown_em", *[f"train_{c}_em" for c in present]]


def stage_epochs(summary: pd.DataFrame) -> pd.DataFrame:
    """(model, dataset, training_set) -> early_stop_epoch, convergence_epoch, from the run summaries."""
    rows = []
    for key, group in summary.groupby(KEYS, sort=True):
        early = group.loc[group["is_early_stop"].astype(bool), "epoch"]
        last = group.loc[group["is_convergence"].astype(bool), "epoch"]
        if len(early) != 1 or len(last) != 1:
            raise ValueError(f"{'/'.join(key)}: the summary must mark exactly one early-stop and one convergence epoch")
        rows.append(dict(zip(KEYS, key), early_stop_epoch=int(early.iloc[0]), convergence_epoch=int(last.iloc[0])))
    return pd.DataFrame(rows, columns=[*KEYS, "early_stop_epoch", "convergence_epoch"])


def build_table(
    history: pd.DataFrame, summary: pd.DataFrame, known, unknown, n_resamples: int, confidence: float, seed: int
) -> pd.DataFrame:
    """One row per (model, dataset, training_set, epoch); EM columns (fractions) with CIs."""
    from factgap.splits import knowledge_group

    if history.empty:
        return pd.DataFrame()
    train = history[history["eval_set"] == "train"]
    categories = sorted(set(train["category"].dropna()))
    stages = stage_epochs(summary).set_index(KEYS) if not summary.empty else pd.DataFrame()
    rows = []
    for key, group in history.groupby(KEYS, sort=True):
        if key not in stages.index:
            raise ValueError(f"{'/'.join(key)}: no training summary (early-stop epoch) for this history")
        early, last = stages.loc[key, "early_stop_epoch"], stages.loc[key, "convergence_epoch"]
        for epoch, at in group.groupby("epoch", sort=True):
            dev = at[at["eval_set"] == "dev"]
            tr = at[at["eval_set"] == "train"]
            groups = tr["category"].map(lambda c: knowledge_group(c, known, unknown) if isinstance(c, str) else "other")
            row = dict(
                zip(KEYS, key),
                epoch=int(epoch),
                global_step=int(at["global_step"].max()),
                is_early_stop=bool(epoch == early),
                is_convergence=bool(epoch == last),
                n_train=len(tr),
            )
            subsets = {
                "dev_em": dev,
                "train_known_em": tr[groups == "known"],
                "train_unknown_em": tr[groups == "unknown"],
            }
            subsets.update({f"train_{c}_em": tr[tr["category"] == c] for c in categories})
            for name in series_names(categories):
                row.update(bootstrap_mean(subsets[name]["correct"], n_resamples, confidence, seed).as_dict(name))
            rows.append(row)
    return pd.DataFrame(rows)


def _metric_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c.endswith("_em") and f"{c}_low" in table]


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table[[*KEYS, "epoch"]].copy()
    out["stage"] = [
        "early stop" if e else ("convergence" if c else "")
        for e, c in zip(table["is_early_stop"], table["is_convergence"])
    ]
    for name in _metric_columns(table):
        n = table[f"{name}_n"]
        out[f"{name} (n={int(n.max())})"] = [
            fmt_ci(v, lo, hi) for v, lo, hi in zip(table[name], table[f"{name}_low"], table[f"{name}_high"])
        ]
    return out


def plot(table: pd.DataFrame, png_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    groups = list(table.groupby(KEYS, sort=True))
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(6 * max(1, len(groups)), 4.2), squeeze=False)
    styles = {
        "train_known_em": ("train: Known", "tab:blue", "-"),
        "train_unknown_em": ("train: Unknown", "tab:red", "-"),
        "dev_em": ("dev", "black", "-"),
    }
    for ax, ((model, dataset, training_set), group) in zip(axes[0], groups):
        group = group.sort_values("epoch")
        for name in _metric_columns(group):
            if group[f"{name}_n"].max() == 0:
                continue
            label, color, line = styles.get(name, (f"train, category {name[6:-3]}", None, ":"))
            ax.plot(
                group["epoch"],
                group[name] * 100,
                line,
                marker="o",
                markersize=3,
                color=color,
                label=label,
                linewidth=2 if name in styles else 1,
            )
            if name in styles:
                ax.fill_between(
                    group["epoch"], group[f"{name}_low"] * 100, group[f"{name}_high"] * 100, color=color, alpha=0.15
                )
        early = group.loc[group["is_early_stop"], "epoch"]
        if len(early):
            ax.axvline(early.iloc[0], color="grey", linestyle="--", label="early stop")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("exact match (%)")
        ax.set_ylim(-2, 102)
        ax.set_title(f"{model} / {dataset} / {training_set}", fontsize=9)
        ax.legend(fontsize=7)
    finish_figure(fig, TITLE, png_path, tight=True)


def _ci(row, name: str) -> str:
    if name not in row:
        return "n/a"
    return fmt_ci(row[name], row[f"{name}_low"], row[f"{name}_high"])


def _fitted_at(group: pd.DataFrame, name: str) -> str:
    if name not in group:
        return "never"
    epochs = group.loc[group[name] >= FITTED, "epoch"]
    return f"at epoch {int(epochs.min())}" if len(epochs) else "never"


def _at_stage(group: pd.DataFrame, flag: str, label: str) -> str:
    rows = group[group[flag].astype(bool)]
    if rows.empty:
        return ""
    row = rows.iloc[0]
    return (
        f"at {label} (epoch {int(row['epoch'])}) train exact match is {_ci(row, 'train_known_em')} on Known and "
        f"{_ci(row, 'train_unknown_em')} on Unknown examples, dev {_ci(row, 'dev_em')}"
    )


def _describe_group(key, group: pd.DataFrame) -> str:
    group = group.sort_values("epoch")
    stages = [
        t
        for t in (_at_stage(group, "is_early_stop", "early stop"), _at_stage(group, "is_convergence", "convergence"))
        if t
    ]
    return (
        f"{'/'.join(map(str, key))}: Known training examples reach {FITTED:.0%} exact match "
        f"{_fitted_at(group, 'train_known_em')}, Unknown ones {_fitted_at(group, 'train_unknown_em')}"
        + "".join(f"; {t}" for t in stages)
        + "."
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: when Known and Unknown examples get fitted, and train/dev EM at both stages."""
    if table.empty:
        return "No evaluated epoch."
    return describe_groups(table, KEYS, _describe_group, MAX_GROUPS)


def build(inputs: ReportInputs, known, unknown, n_resamples: int, confidence: float, seed: int) -> Report:
    """The S1 training-dynamics figure (one panel per model, dataset and training set)."""
    history = inputs.frame("histories")
    summary = inputs.frame("summaries")
    table = build_table(history, summary, known, unknown, n_resamples, confidence, seed)
    if table.empty:
        raise ValueError("the training histories hold no evaluated epoch")
    notes = (
        f"Exact match in %, with {confidence:.0%} bootstrap intervals ({n_resamples} resamples over examples). "
        f"train_known / train_unknown: training examples whose SliCK category is in {list(known)} / {list(unknown)}; "
        "train_<Category>: training examples of that category; dev: the dev questions. Early stop = best dev "
        "exact match; convergence = last epoch."
    )
    return Report(table, display_table(table), TITLE, notes, partial(plot, table), finding=describe(table))
