"""Shared pieces of the S3 reports: tier order; per-item values of the evaluated variants (part 2)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from factgap.factscore.entities import EMBEDDED_TIERS


def tier_order(tiers: Iterable[str]) -> list[str]:
    """Most to least popular: the embedded tiers in their order, any other tier after them (sorted)."""
    present = set(tiers)
    return [t for t in EMBEDDED_TIERS if t in present] + sorted(present - set(EMBEDDED_TIERS))


# ---- part 2: per-item values of every evaluated variant on every test ---------------------------
# metric -> what it measures; FActScore also with its length penalty (factscore_<test>:length_penalty); QA
# exact match also per SliCK category of the base model (qa_em:<category>);
# each configured FPQA / KUQA set adds <name>_accuracy (and <name>_accuracy:<kind>) after these.
METRICS = {
    "factscore_bios": "in domain: FActScore of the test people's greedy bios",
    "factscore_topics": "out of domain: FActScore of greedy answers about non-person Vital Articles",
    "qa_em": "out of domain: exact match on the QA test split",
    "mmlu_accuracy": "out of domain: 0-shot multiple-choice accuracy on MMLU",
}
BASE = "base"
LENGTH_PENALTY_SUFFIX = ":length_penalty"  # factscore_<test>:length_penalty
QA_SET_SUFFIX = "_accuracy"  # metric of a configured FPQA / KUQA set: <name>_accuracy


def item_values(inputs, verifier: str) -> pd.DataFrame:
    """``model, variant, metric, item, value`` for every test a variant was evaluated on. FActScore of
    an abstention (no checkable fact) is NaN: left out of the means and of the paired differences."""
    frames = []
    scores = inputs.frame("scores")
    scores = scores[(scores["verifier"] == verifier) & (scores["sample"] == -1)]
    frames.append(
        pd.DataFrame(
            {
                "model": scores["model"],
                "variant": scores["variant"],
                "metric": "factscore_" + scores["test"],
                "item": scores["entity_id"],
                "value": scores["score"].where(~scores["abstained"]).astype(float),
            }
        )
    )
    # the same bios with FActScore's length penalty (exp(1 - gamma/n) for fewer than gamma facts), a subset
    # row of the FActScore metric like qa_em:<category>: both are reported, the summaries use the plain one
    frames.append(
        pd.DataFrame(
            {
                "model": scores["model"],
                "variant": scores["variant"],
                "metric": "factscore_" + scores["test"] + LENGTH_PENALTY_SUFFIX,
                "item": scores["entity_id"],
                "value": scores["score_lp"].where(~scores["abstained"]).astype(float),
            }
        )
    )
    if inputs.paths("qa"):
        qa = inputs.frame("qa")
        value = qa["correct"].astype(float)
        frames.append(
            pd.DataFrame(
                {"model": qa["model"], "variant": qa["variant"], "metric": "qa_em", "item": qa["id"], "value": value}
            )
        )
        frames.append(
            pd.DataFrame(
                {
                    "model": qa["model"],
                    "variant": qa["variant"],
                    "metric": "qa_em:" + qa["category"],
                    "item": qa["id"],
                    "value": value,
                }
            )
        )
    if inputs.paths("mc"):
        mc = inputs.frame("mc")
        mc = mc[mc["testset"].isin(["id", "ood"])]
        frames.append(
            pd.DataFrame(
                {
                    "model": mc["model"],
                    "variant": mc["variant"],
                    "metric": "mmlu_accuracy",
                    "item": mc["id"],
                    "value": mc["correct"].astype(float),
                }
            )
        )
    if inputs.paths("ood_qa"):
        # FPQA / KUQA sets: <name>_accuracy, and per kind of question (<name>_accuracy:<kind>)
        oq = inputs.frame("ood_qa")
        metric, value = oq["qa_set"] + QA_SET_SUFFIX, oq["correct"].astype(float)
        frames.append(
            pd.DataFrame(
                {"model": oq["model"], "variant": oq["variant"], "metric": metric, "item": oq["id"], "value": value}
            )
        )
        frames.append(
            pd.DataFrame(
                {
                    "model": oq["model"],
                    "variant": oq["variant"],
                    "metric": metric + ":" + oq["kind"],
                    "item": oq["id"],
                    "value": value,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def qa_set_metrics(metrics) -> list[str]:
    """The FPQA / KUQA accuracies among ``metrics`` (not their per-kind subsets), sorted."""
    return sorted(m for m in set(metrics) if m.endswith(QA_SET_SUFFIX) and m not in METRICS)


def qa_set_note(metrics) -> str:
    """What the FPQA / KUQA columns mean, when there are any (empty otherwise)."""
    if not qa_set_metrics(metrics):
        return ""
    return (
        " <set>_accuracy (" + ", ".join(qa_set_metrics(metrics)) + "): greedy answers to a false-premise (FPQA) "
        "or known-unknown (KUQA) question set, right when a false-premise / unknown question is rejected or "
        "abstained on (a configured cue) and a true-premise / known one contains a gold answer "
        "(<set>_accuracy:<kind>: items of that kind); this judging is not APEFT's verified one."
    )


def metric_order(metrics) -> list[str]:
    """The tests in METRICS order, QA categories after the overall exact match (most known first)."""
    from factgap.naming import CATEGORIES

    present = set(metrics)
    out = []
    for metric in METRICS:
        if metric in present:
            out.append(metric)
        if metric + LENGTH_PENALTY_SUFFIX in present:
            out.append(metric + LENGTH_PENALTY_SUFFIX)
        if metric == "qa_em":
            out += [f"qa_em:{c}" for c in CATEGORIES if f"qa_em:{c}" in present]
    return out + sorted(present - set(out))


def paired_values(values: pd.DataFrame, model: str, metric: str, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Values of variants a and b on the items both were scored on (same order)."""
    frame = values[(values["model"] == model) & (values["metric"] == metric)]
    left = frame[frame["variant"] == a].set_index("item")["value"]
    right = frame[frame["variant"] == b].set_index("item")["value"]
    joined = pd.concat([left.rename("a"), right.rename("b")], axis=1, join="inner").dropna().sort_index()
    return joined["a"].to_numpy(float), joined["b"].to_numpy(float)
