"""PAPER_FINDING and describe() of the S1 and S2 report modules, on small hand-built tables."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from factgap.reports import (
    s1_category_accuracy,
    s1_idk,
    s1_linear_fit,
    s1_significance,
    s1_training_dynamics,
    s2_factuality_gap,
    s2_icl_gains,
    s2_ood_gap,
    s2_popularity,
)

NAN = float("nan")
MODULES = [
    "s1_category_accuracy",
    "s1_idk",
    "s1_linear_fit",
    "s1_significance",
    "s1_training_dynamics",
    "s2_factuality_gap",
    "s2_icl_gains",
    "s2_ood_gap",
    "s2_popularity",
]


def est(name: str, value: float, low: float, high: float, n: int = 100) -> dict:
    """The columns bootstrap_mean(...).as_dict(name) gives."""
    return {name: value, f"{name}_low": low, f"{name}_high": high, f"{name}_n": n}


def two_models(table: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([table, table.assign(model="other-model")], ignore_index=True)


# ---- S1 ---------------------------------------------------------------------------------------
def category_table(em_unknown_conv=0.29) -> pd.DataFrame:
    rows = []
    for training_set, stage, em in (
        ("only-HighlyKnown", "early_stop", 0.60),
        ("unknown", "early_stop", 0.44),
        ("only-HighlyKnown", "convergence", 0.61),
        ("unknown", "convergence", em_unknown_conv),
        ("base", "", 0.03),
    ):
        for subset, value in (("all", em), ("Unknown", em / 2)):
            rows.append(
                {
                    "model": "m",
                    "dataset": "d",
                    "training_set": training_set,
                    "stage": stage,
                    "variant": f"{training_set}-{stage}" if stage else "base",
                    "test_subset": subset,
                    **est("em", value, value - 0.09, value + 0.1),
                }
            )
    return pd.DataFrame(rows)


def test_category_accuracy_names_best_and_worst_training_set_per_stage():
    text = s1_category_accuracy.describe(category_table())
    assert "early stop the best of 2 training sets is only-HighlyKnown with 60.0 [51.0, 70.0]" in text
    assert "worst unknown with 29.0 [20.0, 39.0]" in text
    assert text.index("early stop") < text.index("convergence")
    assert "base" not in text


def test_category_accuracy_nan_and_missing_stage():
    table = category_table(em_unknown_conv=NAN)
    text = s1_category_accuracy.describe(table[table["stage"] != "early_stop"])
    assert "early stop" not in text and "only-HighlyKnown scores 61.0 [52.0, 71.0]" in text
    one_nan = table[(table["stage"] == "convergence") & (table["training_set"] == "unknown")]
    assert "n/a" in s1_category_accuracy.describe(one_nan)


def test_category_accuracy_two_models():
    text = s1_category_accuracy.describe(two_models(category_table()))
    assert text.startswith("m/d") and "other-model/d" in text


def idk_table(answered_em=0.646) -> pd.DataFrame:
    pair = "idk-mix-early_stop vs mix-early_stop"
    return pd.DataFrame(
        [
            {
                "model": "m",
                "dataset": "d",
                "pair": pair,
                "role": "idk",
                "variant": "idk-mix-early_stop",
                **est("answer_rate", 0.65, 0.55, 0.74),
                **est("em", 0.42, 0.32, 0.52),
                **est("answered_em", answered_em, 0.523, 0.769, 65),
            },
            {
                "model": "m",
                "dataset": "d",
                "pair": pair,
                "role": "plain",
                "variant": "mix-early_stop",
                **est("answer_rate", 1.0, 1.0, 1.0),
                **est("em", 0.53, 0.44, 0.63),
                **est("answered_em", 0.53, 0.44, 0.63),
            },
        ]
    )


def test_idk_answer_rate_and_answered_accuracy():
    text = s1_idk.describe(idk_table())
    assert "idk-mix-early_stop answers 65.0 [55.0, 74.0]% of the test questions" in text
    assert "exact match 64.6 [52.3, 76.9] on those (42.0 [32.0, 52.0] over all questions)" in text
    assert "against 53.0 [44.0, 63.0] on the questions mix-early_stop answers" in text


def test_idk_nan_and_one_row():
    assert "exact match n/a on those" in s1_idk.describe(idk_table(answered_em=NAN))
    assert "n/a" in s1_idk.describe(idk_table().iloc[:1])


def test_idk_two_models():
    text = s1_idk.describe(two_models(idk_table()))
    assert text.startswith("m/d") and "other-model/d" in text


def linear_table() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": "m",
                "dataset": "d",
                "fit": "dev, every epoch",
                "n": 16,
                "n_training_sets": 4,
                "b0": 0.383,
                "b0_se": 0.052,
                "b_kn": 0.113,
                "b_kn_se": 0.057,
                "b_unk": -0.0437,
                "b_unk_se": NAN,
                "r2": 0.579,
                "status": "ok",
            },
            {
                "model": "m",
                "dataset": "d",
                "fit": "test, early stop and convergence",
                "n": 2,
                "n_training_sets": 1,
                "b0": NAN,
                "b0_se": NAN,
                "b_kn": NAN,
                "b_kn_se": NAN,
                "b_unk": NAN,
                "b_unk_se": NAN,
                "r2": NAN,
                "status": "2 points cannot fit 3 parameters",
            },
        ]
    )


def test_linear_fit_coefficients_in_points():
    text = s1_linear_fit.describe(linear_table())
    assert "b0 = 38.3 ± 5.2, b_kn = 11.3 ± 5.7, b_unk = -4.4 points" in text and "R² = 0.58" in text
    assert "no fit (2 points cannot fit 3 parameters)" in text


def test_linear_fit_two_models():
    text = s1_linear_fit.describe(two_models(linear_table()))
    assert "other-model/d, fit 'dev, every epoch' (16 points)" in text


def significance_table() -> pd.DataFrame:
    rows = [
        ("unknown-early_stop", "unknown-convergence", 0.44, 0.29, 0.0008),
        ("known-early_stop", "known-convergence", 0.49, 0.49, 1.0),
        ("mix-early_stop", "mix-convergence", 0.53, 0.47, NAN),
    ]
    return pd.DataFrame(
        [
            {
                "model": "m",
                "dataset": "d",
                "variant_a": a,
                "variant_b": b,
                "em_a": ea,
                "em_b": eb,
                "diff": ea - eb,
                "t": 1.0,
                "p": p,
                "n_chunks": 100,
                "n_items": 100,
            }
            for a, b, ea, eb, p in rows
        ]
    )


def test_significance_separates_significant_comparisons():
    text = s1_significance.describe(significance_table())
    assert "1 of 3 comparisons differ at p < 0.05" in text
    assert "unknown-early_stop vs unknown-convergence +15.0 (p = 0.0008)" in text
    assert "not significant: known-early_stop vs known-convergence +0.0 (p = 1)" in text
    assert "mix-early_stop vs mix-convergence +6.0 (p = n/a)" in text


def test_significance_lists_at_most_a_few_and_two_models():
    many = pd.concat([significance_table()] * 3, ignore_index=True)
    assert "and 3 more" in s1_significance.describe(many)
    text = s1_significance.describe(two_models(significance_table()))
    assert text.startswith("m/d") and "other-model/d" in text


def dynamics_table(dev_conv=0.40) -> pd.DataFrame:
    epochs = [(1, 0.70, 0.21, 0.43), (2, 0.97, 0.576, 0.55), (3, 1.0, 0.97, 0.48), (4, 1.0, 1.0, dev_conv)]
    return pd.DataFrame(
        [
            {
                "model": "m",
                "dataset": "d",
                "training_set": "mix-unknown-50",
                "epoch": e,
                "global_step": 9 * e,
                "is_early_stop": e == 2,
                "is_convergence": e == 4,
                "n_train": 66,
                **est("dev_em", dev, dev - 0.15, dev + 0.15, 40),
                **est("train_known_em", kn, kn - 0.1, 1.0),
                **est("train_unknown_em", unk, unk - 0.15, unk + 0.15),
            }
            for e, kn, unk, dev in epochs
        ]
    )


def test_training_dynamics_fit_epochs_and_stages():
    text = s1_training_dynamics.describe(dynamics_table())
    assert "Known training examples reach 90% exact match at epoch 2, Unknown ones at epoch 3" in text
    assert "at early stop (epoch 2) train exact match is 97.0 [87.0, 100.0] on Known and 57.6 [42.6, 72.6]" in text
    assert "at convergence (epoch 4)" in text and "dev 40.0 [25.0, 55.0]" in text


def test_training_dynamics_nan_never_fitted_and_missing_stage():
    table = dynamics_table(dev_conv=NAN)
    table["train_unknown_em"] = 0.5
    text = s1_training_dynamics.describe(table)
    assert "Unknown ones never" in text and "dev n/a" in text
    table["is_convergence"] = False
    assert "convergence" not in s1_training_dynamics.describe(table)
    assert "at early stop" in s1_training_dynamics.describe(table.iloc[[1]])


def test_training_dynamics_two_models():
    text = s1_training_dynamics.describe(two_models(dynamics_table()))
    assert text.startswith("m/d/mix-unknown-50") and "other-model/d/mix-unknown-50" in text


# ---- S2 ---------------------------------------------------------------------------------------
def gap_row(known: float, unknown: float, gap_low: float, gap_high: float, n: int = 100) -> dict:
    return {
        **est("base_em", 0.03, 0.0, 0.07, n),
        **est("known_em", known, known - 0.1, known + 0.1, n),
        **est("unknown_em", unknown, unknown - 0.1, unknown + 0.1, n),
        **est("gap", known - unknown, gap_low, gap_high, n),
    }


def factuality_table(gap_conv=(0.49, 0.29, 0.09, 0.32)) -> pd.DataFrame:
    rows = []
    for stage, values in (("early_stop", (0.49, 0.44, -0.05, 0.15)), ("convergence", gap_conv)):
        for subset in ("all", "test-Unknown"):
            rows.append(
                {
                    "model": "m",
                    "dataset": "d",
                    "metric": "exact match",
                    "stage": stage,
                    "test_subset": subset,
                    **gap_row(*values),
                }
            )
    return pd.DataFrame(rows)


def test_factuality_gap_at_both_stages():
    text = s2_factuality_gap.describe(factuality_table())
    assert "5.0 [-5.0, 15.0] (includes 0) at early stop (Known 49.0, Unknown 44.0)" in text
    assert "20.0 [9.0, 32.0] (excludes 0) at convergence (Known 49.0, Unknown 29.0)" in text
    assert "all test items" in text


def test_factuality_gap_nan_missing_stage_and_subset():
    text = s2_factuality_gap.describe(factuality_table(gap_conv=(0.49, NAN, NAN, NAN)))
    assert "n/a at convergence (Known 49.0, Unknown n/a)" in text
    table = factuality_table()
    only = table[(table["stage"] == "convergence") & (table["test_subset"] == "test-Unknown")]
    text = s2_factuality_gap.describe(only)
    assert "the test-Unknown items" in text and "early stop" not in text


def test_factuality_gap_two_models():
    text = s2_factuality_gap.describe(two_models(factuality_table()))
    assert text.startswith("m/d") and "other-model/d" in text


def icl_table(cot_gain=-0.27) -> pd.DataFrame:
    rows = [
        ("base", 0.03, 0.41, 0.32, 0.51),
        ("known-early_stop", 0.49, -0.03, -0.11, 0.05),
        ("unknown-early_stop", 0.44, 0.13, 0.05, 0.22),
    ]
    return pd.DataFrame(
        [
            {
                "model": "m",
                "dataset": "d",
                "variant": v,
                **est("zero_shot_em", z, z - 0.1, z + 0.1),
                **est("four_shot_em", z + g, z + g - 0.1, z + g + 0.1),
                **est("four_shot_gain", g, lo, hi),
                **est("four_shot_cot_em", 0.2, 0.1, 0.3),
                **est("four_shot_cot_gain", cot_gain, -0.38, -0.18),
            }
            for v, z, g, lo, hi in rows
        ]
    )


def test_icl_gains_per_variant():
    text = s2_icl_gains.describe(icl_table())
    assert "4-shot: base 41.0 [32.0, 51.0] (excludes 0), known-early_stop -3.0 [-11.0, 5.0] (includes 0)" in text
    assert "unknown-early_stop 13.0 [5.0, 22.0] (excludes 0)" in text
    assert "4-shot CoT: base -27.0 [-38.0, -18.0] (excludes 0)" in text


def test_icl_gains_nan_missing_modes_and_many_variants():
    assert "4-shot CoT: base n/a" in s2_icl_gains.describe(icl_table(cot_gain=NAN))
    zero_only = icl_table()[
        ["model", "dataset", "variant", "zero_shot_em", "zero_shot_em_low", "zero_shot_em_high", "zero_shot_em_n"]
    ]
    assert "no few-shot predictions" in s2_icl_gains.describe(zero_only)
    many = pd.concat([icl_table()] * 3, ignore_index=True)
    assert ", ..." in s2_icl_gains.describe(many)


def test_icl_gains_two_models():
    text = s2_icl_gains.describe(two_models(icl_table()))
    assert text.startswith("m/d") and "other-model/d" in text


def ood_table(ood_gap=(0.30, 0.25, -0.02, 0.12)) -> pd.DataFrame:
    rows = []
    for stage in ("early_stop", "convergence"):
        for testset, values, cosine in (("test", (0.49, 0.29, 0.09, 0.32), NAN), ("ood", ood_gap, 0.578)):
            rows.append(
                {
                    "model": "m",
                    "dataset": "d",
                    "stage": stage,
                    "testset": testset,
                    **gap_row(*values),
                    "centroid_cosine": cosine,
                    "mean_pairwise_cosine": cosine / 2,
                }
            )
    table = pd.DataFrame(rows)
    table[["base_em", "base_em_low", "base_em_high"]] = NAN  # no base predictions: as in a real run
    return table


def test_ood_gap_in_and_out_of_distribution():
    text = s2_ood_gap.describe(ood_table())
    assert "in distribution 20.0 [9.0, 32.0] (excludes 0) at early stop (Known 49.0, Unknown 29.0)" in text
    assert "out of distribution (ID-OOD centroid cosine 0.58) 5.0 [-2.0, 12.0] (includes 0)" in text


def test_ood_gap_nan_and_one_row():
    text = s2_ood_gap.describe(ood_table(ood_gap=(NAN, NAN, NAN, NAN)))
    assert "out of distribution (ID-OOD centroid cosine 0.58) n/a at early stop (Known n/a, Unknown n/a)" in text
    assert "at convergence" in s2_ood_gap.describe(ood_table().iloc[[3]])


def test_ood_gap_two_models():
    text = s2_ood_gap.describe(two_models(ood_table()))
    assert text.startswith("m/d") and "other-model/d" in text


def popularity_table(top_gap_low=0.083) -> pd.DataFrame:
    rows = []
    for stage in ("early_stop", "convergence"):
        for bucket, known, unknown, low, high in (
            (1, 0.24, 0.16, -0.12, 0.28),
            (2, 0.44, 0.40, -0.16, 0.24),
            (3, 0.56, 0.41, top_gap_low, 0.21),
        ):
            rows.append(
                {
                    "model": "m",
                    "dataset": "d",
                    "stage": stage,
                    "bucket": bucket,
                    "popularity_low": 10.0**bucket,
                    "popularity_high": 10.0 ** (bucket + 1),
                    **gap_row(known, unknown, low, high, 25),
                }
            )
    return pd.DataFrame(rows)


def test_popularity_least_and_most_popular_bucket():
    text = s2_popularity.describe(popularity_table())
    assert "8.0 [-12.0, 28.0] (includes 0) in the least popular bucket (1)" in text
    assert "15.0 [8.3, 21.0] (excludes 0) in the most popular (3)" in text
    assert "the Known-trained model scoring 24.0 and 56.0 there" in text


def test_popularity_nan_single_bucket_and_missing_stage():
    assert "n/a in the most popular (3)" in s2_popularity.describe(popularity_table(top_gap_low=NAN))
    table = popularity_table()
    text = s2_popularity.describe(table[(table["stage"] == "convergence") & (table["bucket"] == 2)])
    assert "(a single bucket)" in text and "early stop" not in text


def test_popularity_two_models():
    text = s2_popularity.describe(two_models(popularity_table()))
    assert text.startswith("m/d") and "other-model/d" in text


@pytest.mark.parametrize("name", MODULES)
def test_describe_limits_the_number_of_groups(name):
    """Many models: the first few groups and '...', never a crash."""
    builders = {
        "s1_category_accuracy": category_table,
        "s1_idk": idk_table,
        "s1_linear_fit": linear_table,
        "s1_significance": significance_table,
        "s1_training_dynamics": dynamics_table,
        "s2_factuality_gap": factuality_table,
        "s2_icl_gains": icl_table,
        "s2_ood_gap": ood_table,
        "s2_popularity": popularity_table,
    }
    table = builders[name]()
    many = pd.concat([table.assign(model=f"model-{i}") for i in range(6)], ignore_index=True)
    text = importlib.import_module(f"factgap.reports.{name}").describe(many)
    assert "model-0" in text and "model-5" not in text and text.endswith("...")
    assert not np.any([word == "nan" for word in text.replace(",", " ").split()])
