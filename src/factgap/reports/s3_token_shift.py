"""S3 diagnosis: token distribution shift (AlignTDS, Lin et al. 2023) of each tuned variant's greedy
answers, ranked token by token under the base model: unshifted (rank 1), marginal (2..k), shifted.
Under-alignment shows as a shifted share out of domain far below the one in domain."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from factgap.preference.token_shift import KINDS
from factgap.reports.common import Report, ReportInputs, add_ci_columns, describe_groups, finish_figure

TITLE = "S3: token distribution shift of the tuned models, in vs out of domain"
PAPER_FINDING = (
    "Yuan et al. 2024 (Section 4.2, Figure 3) rank the tuned models' tokens under the base model and find the share "
    "of shifted tokens out of domain to be under a third of the in-domain share: the tuned models hardly change on "
    "new queries, which they call under-alignment and name, rather than over-alignment, as the cause of the weak "
    "out-of-domain results."
)
DOMAINS = (("in_domain", "in domain"), ("out_of_domain", "out of domain"))
UNDER_ALIGNED = 1 / 3  # APEFT's sign: out-of-domain shifted share below a third of the in-domain one
MAX_MODELS = 3


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
        row = {
            "model": model,
            "variant": variant,
            "domain": domain,
            "responses": len(group),
            "tokens": int(totals.sum()),
        }
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


def _shifted(row) -> str:
    # Two decimals: shifted shares are often well under 1% of the tokens.
    values = [row["shifted"], row["shifted_low"], row["shifted_high"]]
    if any(pd.isna(v) for v in values):
        return "n/a"
    value, low, high = (100 * v for v in values)
    return f"{value:.2f}% [{low:.2f}, {high:.2f}]"


def _domain_range(rows: pd.DataFrame, domain: str, label: str) -> str:
    part = rows[rows["domain"] == domain].dropna(subset=["shifted"]).sort_values("shifted", kind="stable")
    if part.empty:
        return f"{label} n/a"
    low, high = part.iloc[0], part.iloc[-1]
    if len(part) == 1:
        return f"{label} {_shifted(low)} ({low['variant']})"
    return f"{label} from {_shifted(low)} ({low['variant']}) to {_shifted(high)} ({high['variant']})"


def _ratio_text(rows: pd.DataFrame) -> str:
    if "ood_over_id_shifted" not in rows:
        return ""
    ratio = rows.drop_duplicates("variant")["ood_over_id_shifted"].astype(float)
    finite = ratio[np.isfinite(ratio)]
    median = f"{finite.median():.2f}" if len(finite) else "n/a"
    undefined = len(ratio) - len(finite)
    if undefined:
        median += f"; undefined for {undefined}: no shifted in-domain token or a domain missing"
    return (
        f" The out-of-domain shifted share is below a third of the in-domain one (APEFT's under-alignment sign) "
        f"for {int((finite < UNDER_ALIGNED).sum())} of {len(ratio)} variants (median ratio {median})."
    )


def _describe_model(model, rows: pd.DataFrame) -> str:
    ranges = "; ".join(_domain_range(rows, domain, label) for domain, label in DOMAINS)
    unshifted = rows["unshifted"].min()
    kept = "n/a" if pd.isna(unshifted) else f"{100 * unshifted:.1f}%"
    return (
        f"{model}, {rows['variant'].nunique()} tuned variants: the share of shifted tokens ranges {ranges}, "
        f"and at least {kept} of every variant's tokens are the base model's top choice.{_ratio_text(rows)}"
    )


def describe(table: pd.DataFrame) -> str:
    """What this run found: the range of shifted-token shares in and out of domain, and how many variants show
    APEFT's under-alignment sign."""
    if table.empty:
        return "No token-shift rows."
    return describe_groups(table, "model", _describe_model, MAX_MODELS)


def build(inputs: ReportInputs, marginal_max: int, n_resamples: int, confidence: float, seed: int) -> Report:
    table = build_table(inputs.frame("shifts"), n_resamples, confidence, seed)
    if table.empty:
        raise ValueError("no token-shift rows")
    shown = add_ci_columns(table[["model", "variant", "domain", "responses", "tokens"]].copy(), table, KINDS)
    if "ood_over_id_shifted" in table:
        shown["ood/id shifted"] = [f"{v:.2f}" if v == v else "" for v in table["ood_over_id_shifted"]]
    notes = (
        f"Each token of a tuned variant's greedy answer ranked in the base model's next-token distribution "
        f"given the same prefix: rank 1 unshifted, 2-{marginal_max} marginal, higher shifted (AlignTDS). Shares of "
        "all tokens in %, 95% bootstrap CIs over answers. in domain: the test people's bios; out of domain: the "
        "topic answers. APEFT's under-alignment sign: out-of-domain shifted share below a third of in-domain. "
        "Answers are re-tokenised from their text, which can differ from the generated ids at a boundary."
    )
    return Report(table, shown, TITLE, notes, partial(plot, table), finding=describe(table))
