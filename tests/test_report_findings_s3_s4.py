"""PAPER_FINDING and describe() of the S3 and S4 report modules, on small hand-built tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factgap.reports import (
    s3_alignment_gaps,
    s3_fact_knowledge,
    s3_factscore_tiers,
    s3_preference_effects,
    s3_token_shift,
    s3_verifiers,
    s4_consistency_ratio,
    s4_kl,
    s4_rank_correlation,
    s4_set_accuracy,
)
from factgap.reports.s4_common import aligned_with_base

NAN = float("nan")


def est(name: str, value: float, low: float, high: float, n: int = 100) -> dict:
    """The columns bootstrap_mean(...).as_dict(name) gives."""
    return {name: value, f"{name}_low": low, f"{name}_high": high, f"{name}_n": n}


def with_models(table: pd.DataFrame, n: int) -> pd.DataFrame:
    return pd.concat([table] + [table.assign(model=f"other-model-{i}") for i in range(1, n)], ignore_index=True)


# ---- S3 ---------------------------------------------------------------------------------------
def gaps_table(bios_nan: bool = False) -> pd.DataFrame:
    cells = {  # (comparison, method, metric) -> (diff, low, high)
        ("general - base", "dpo", "factscore_bios"): (0.03, 0.01, 0.05),
        ("general - base", "kto", "factscore_bios"): (-0.02, -0.05, 0.01),
        ("general - base", "dpo", "mmlu_accuracy"): (-0.04, -0.07, -0.01),
        ("general - base", "kto", "mmlu_accuracy"): (0.0, 0.0, 0.0),
        ("general - base", "dpo", "qa_em"): (0.0, 0.0, 0.0),
        ("general - base", "kto", "qa_em"): (0.0, 0.0, 0.0),
        ("general - base", "dpo", "qa_em:Unknown"): (-0.5, -0.6, -0.4),
        ("general+atomic - general", "dpo", "factscore_bios"): (0.01, -0.01, 0.03),
        ("general+atomic - general", "kto", "factscore_bios"): (0.026, -0.001, 0.055),
        ("general+atomic - general", "dpo", "mmlu_accuracy"): (-0.025, -0.0625, 0.0),
        ("general+atomic - general", "kto", "mmlu_accuracy"): (0.0, 0.0, 0.0),
        ("general+atomic - base", "dpo", "factscore_bios"): (0.04, 0.02, 0.06),
    }
    rows = []
    for (comparison, method, metric), (diff, low, high) in cells.items():
        if bios_nan and metric == "factscore_bios":
            diff, low, high = NAN, NAN, NAN
        rows.append(
            {
                "model": "m",
                "method": method,
                "metric": metric,
                "comparison": comparison,
                **est("diff", diff, low, high, 48),
            }
        )
    return pd.DataFrame(rows)


def test_alignment_gaps_in_domain_range_and_out_of_domain_drops():
    text = s3_alignment_gaps.describe(gaps_table())
    assert (
        "m, general - base: between -2.0 [-5.0, 1.0] points (kto; interval includes 0) and 3.0 [1.0, 5.0] "
        "points (dpo; interval excludes 0) in domain"
    ) in text
    # qa_em:Unknown is a subset of qa_em: not counted among the out-of-domain tests
    assert (
        "1 of 4 differences are drops whose interval excludes 0, the largest -4.0 [-7.0, -1.0] points "
        "(dpo on mmlu_accuracy; interval excludes 0)"
    ) in text
    assert (
        "m, general+atomic - general: between 1.0 [-1.0, 3.0] points (dpo; interval includes 0) and 2.6 "
        "[-0.1, 5.5] points (kto; interval includes 0) in domain; out of domain none of 2 differences is a drop "
        "whose interval excludes 0; the lowest is -2.5 [-6.2, 0.0] points (dpo on mmlu_accuracy"
    ) in text
    assert "general+atomic - base" not in text


def test_alignment_gaps_nan_and_only_the_mixed_set():
    assert "n/a in domain" in s3_alignment_gaps.describe(gaps_table(bios_nan=True))
    table = gaps_table()
    mixed_only = table[table["comparison"] == "general+atomic - base"]
    text = s3_alignment_gaps.describe(mixed_only)
    assert "general+atomic - base: 4.0 [2.0, 6.0] points (dpo; interval excludes 0) in domain" in text
    assert "none measured out of domain" in text


def preference_table(nan: bool = False) -> pd.DataFrame:
    def row(variant, method, pair_set, metric, value, change=None):
        out = {
            "model": "m",
            "variant": variant,
            "method": method,
            "pair_set": pair_set,
            "metric": metric,
            "epoch": None if method == "base" else 1,
            "dev_reward_accuracy": None if method == "base" else 0.6,
            **est("value", *value),
        }
        return out | (est("change", *change) if change else {})

    base_bios = (NAN, NAN, NAN) if nan else (0.127, 0.08, 0.181)
    dpo_bios = (NAN, NAN, NAN) if nan else (0.033, -0.002, 0.066)
    return pd.DataFrame(
        [
            row("base", "base", "", "factscore_bios", base_bios),
            row("base", "base", "", "mmlu_accuracy", (0.35, 0.24, 0.45)),
            row("dpo:general-convergence", "dpo", "general", "factscore_bios", (0.16, 0.1, 0.22), dpo_bios),
            row("dpo:general-convergence", "dpo", "general", "mmlu_accuracy", (0.31, 0.2, 0.41), (-0.038, -0.088, 0.0)),
            row(
                "kto:general+atomic-convergence",
                "kto",
                "general+atomic",
                "factscore_bios",
                (0.1, 0.05, 0.15),
                (-0.023, -0.054, 0.004),
            ),
            row(
                "kto:general+atomic-convergence",
                "kto",
                "general+atomic",
                "mmlu_accuracy",
                (0.3, 0.2, 0.4),
                (-0.05, -0.09, -0.01),
            ),
            row(
                "kto:general+atomic-convergence",
                "kto",
                "general+atomic",
                "qa_em:Unknown",
                (0.0, 0.0, 0.0),
                (-0.3, -0.4, -0.2),
            ),
        ]
    )


def test_preference_effects_best_and_worst_change_and_out_of_domain_drops():
    text = s3_preference_effects.describe(preference_table())
    assert text.startswith("m: base in-domain FActScore 12.7 [8.0, 18.1]")
    assert (
        "between -2.3 [-5.4, 0.4] points (kto/general+atomic; interval includes 0) and 3.3 [-0.2, 6.6] points "
        "(dpo/general; interval includes 0)"
    ) in text
    assert (
        "1 of 2 changes are drops whose interval excludes 0; the largest is -5.0 [-9.0, -1.0] points "
        "(kto/general+atomic on mmlu_accuracy; interval excludes 0)"
    ) in text


def test_preference_effects_nan_and_base_only():
    text = s3_preference_effects.describe(preference_table(nan=True))
    assert "base in-domain FActScore n/a" in text and "the one tuned variant changes it by -2.3" in text
    base_only = (
        preference_table()
        .query("variant == 'base'")
        .drop(columns=[c for c in preference_table().columns if c.startswith("change")])
    )
    assert "no tuned variant was evaluated" in s3_preference_effects.describe(base_only)


def knowledge_table(asked_none: bool = False) -> pd.DataFrame:
    unsupported = (0, NAN, NAN, NAN, NAN) if asked_none else (216, 0.0584, 0.00926, 0.1713, 0.8194)
    return pd.DataFrame(
        [
            {
                "model": "m",
                "verdict": "supported",
                "facts": 35,
                "asked": 35,
                "mean_r": 0.2821,
                "known": 0.02857,
                "potentially_known": 0.6,
                "unknown": 0.37143,
            },
            dict(
                zip(
                    ["model", "verdict", "facts", "asked", "mean_r", "known", "potentially_known", "unknown"],
                    ["m", "not supported", 217, *unsupported],
                )
            ),
        ]
    )


def test_fact_knowledge_shares_per_verdict():
    text = s3_fact_knowledge.describe(knowledge_table())
    assert (
        "m: of 35 supported facts asked back (35 stated), 2.9% are known, 60.0% potentially known and 37.1% "
        "unknown (mean r 0.28); of 216 not supported facts asked back (217 stated), 0.9% are known, 17.1% "
        "potentially known and 81.9% unknown (mean r 0.06)."
    ) == text


def test_fact_knowledge_nan():
    text = s3_fact_knowledge.describe(knowledge_table(asked_none=True))
    assert "of 0 not supported facts asked back (217 stated), n/a are known" in text and "mean r n/a" in text


def tiers_table(diff_nan: bool = False) -> pd.DataFrame:
    def row(tier, people, fs, lp, fpr=5.0):
        return {
            "model": "m",
            "variant": "base",
            "tier": tier,
            "people": people,
            "abstained": 0,
            "facts_per_response": fpr,
            **est("factscore", *fs),
            **est("factscore_lp", *lp),
        }

    diff = (NAN, NAN, NAN) if diff_nan else (0.158, 0.06, 0.253)
    return pd.DataFrame(
        [
            row("vital_l3", 16, (0.187, 0.094, 0.284), (0.103, 0.043, 0.173)),
            row("nobel", 16, (0.028, 0.0, 0.064), (0.017, 0.0, 0.039)),
            row("all", 32, (0.127, 0.08, 0.181), (0.057, 0.03, 0.087)),
            row("vital_l3 - nobel", 32, diff, (0.086, 0.02, 0.157), NAN),
        ]
    )


def test_factscore_tiers_pooled_per_tier_and_difference():
    text = s3_factscore_tiers.describe(tiers_table())
    assert text.startswith(
        "m/base: FActScore 12.7 [8.0, 18.1] over 32 people (0 abstained), 5.7 [3.0, 8.7] with the length penalty"
    )
    assert "by tier vital_l3 18.7 [9.4, 28.4], nobel 2.8 [0.0, 6.4]" in text
    assert "vital_l3 - nobel: 15.8 [6.0, 25.3] points (interval excludes 0)" in text


def test_factscore_tiers_nan_and_one_tier():
    assert "vital_l3 - nobel: n/a" in s3_factscore_tiers.describe(tiers_table(diff_nan=True))
    one_tier = tiers_table().query("tier in ['nobel', 'all']")
    text = s3_factscore_tiers.describe(one_tier)
    assert "by tier nobel 2.8 [0.0, 6.4]" in text and " - " not in text


def shift_table(nan: bool = False) -> pd.DataFrame:
    shares = {  # variant -> (in-domain shifted, out-of-domain shifted)
        "dpo:general-convergence": (0.0017, 0.00065),
        "kto:general-convergence": (0.003, 0.0006),
        "ipo:general-convergence": (0.0, 0.00065),
    }
    rows = []
    for variant, (in_d, out_d) in shares.items():
        for domain, shifted in (("in_domain", in_d), ("out_of_domain", out_d)):
            if nan:
                shifted = NAN
            rows.append(
                {
                    "model": "m",
                    "variant": variant,
                    "domain": domain,
                    "responses": 24,
                    "tokens": 1500,
                    "unshifted": 0.973 if variant.startswith("kto") else 0.98,
                    "unshifted_low": 0.96,
                    "unshifted_high": 0.99,
                    "marginal": 0.02,
                    "marginal_low": 0.01,
                    "marginal_high": 0.03,
                    "shifted": shifted,
                    "shifted_low": shifted / 2,
                    "shifted_high": shifted * 2,
                    "ood_over_id_shifted": out_d / in_d if in_d else np.inf,
                }
            )
    return pd.DataFrame(rows)


def test_token_shift_ranges_and_under_alignment_count():
    text = s3_token_shift.describe(shift_table())
    assert text.startswith(
        "m, 3 tuned variants: the share of shifted tokens ranges in domain from 0.00% [0.00, "
        "0.00] (ipo:general-convergence) to 0.30% [0.15, 0.60] (kto:general-convergence)"
    )
    assert "at least 97.3% of every variant's tokens" in text
    # kto: 0.0006 / 0.003 = 0.2 < 1/3; dpo: 0.38; ipo: no shifted in-domain token
    assert "for 1 of 3 variants (median ratio 0.29; undefined for 1" in text


def test_token_shift_nan_and_one_domain():
    text = s3_token_shift.describe(shift_table(nan=True))
    assert "in domain n/a; out of domain n/a" in text
    in_only = shift_table().query("domain == 'in_domain'").drop(columns="ood_over_id_shifted")
    text = s3_token_shift.describe(in_only)
    assert "out of domain n/a" in text and "APEFT" not in text


def verifier_table(auc=0.435434) -> pd.DataFrame:
    columns = [
        "model",
        "verifier",
        "dev_claims",
        "dev_accuracy",
        "dev_auc",
        "test_claims",
        "test_accuracy",
        "test_auc",
        "bio_facts",
        "bio_supported",
        "agreement_with_primary",
        "kappa_with_primary",
    ]
    return pd.DataFrame(
        [
            ["m", "llm", 112, 0.517857, 0.476722, 88, 0.5, auc, 252, 0.873016, 0.162698, -0.0882521],
            ["m", "rules", 112, 0.901786, 0.965561, 88, 0.897727, 0.923037, 252, 0.138889, 1.0, 1.0],
        ],
        columns=columns,
    )


def test_verifiers_accuracy_and_agreement():
    text = s3_verifiers.describe(verifier_table())
    assert (
        "m: llm is right on 50.0% of 88 test claims (AUC 0.44), finds 87.3% of 252 bio facts supported and "
        "agrees with the primary verifier on 16.3% of them (kappa -0.09); rules is right on 89.8%"
    ) in text


def test_verifiers_nan():
    assert "(AUC n/a)" in s3_verifiers.describe(verifier_table(auc=NAN))


# ---- S4 ---------------------------------------------------------------------------------------
def set_table(gap_nan: bool = False) -> pd.DataFrame:
    cells = {  # (testset, row) -> (acc, low, high)
        ("homo", "base"): (0.225, 0.1, 0.35),
        ("homo", "HAR"): (0.35, 0.225, 0.5),
        ("homo", "INC"): (0.225, 0.125, 0.35),
        ("homo", "SELF"): (0.3, 0.2, 0.4),
        ("homo", "HAR - INC"): (0.125, 0.025, 0.275),
        ("homo", "SELF - INC"): (0.075, -0.05, 0.2),
        ("ood", "HAR"): (0.2, 0.1, 0.3),
        ("ood", "INC"): (0.25, 0.15, 0.35),
        ("ood", "HAR - INC"): (-0.05, -0.2, 0.1),
    }
    rows = []
    for (testset, role), (acc, low, high) in cells.items():
        if gap_nan and " - " in role:
            acc, low, high = NAN, NAN, NAN
        rows.append({"model": "m", "testset": testset, "row": role, **est("acc", acc, low, high, 40)})
    return pd.DataFrame(rows)


def test_set_accuracy_gaps_per_test_set():
    text = s4_set_accuracy.describe(set_table())
    assert (
        "m, accuracy gaps in points: HAR - INC is HOMO 12.5 [2.5, 27.5] (excludes 0), OOD -5.0 [-20.0, 10.0] "
        "(includes 0); SELF - INC is HOMO 7.5 [-5.0, 20.0] (includes 0)."
    ) == text


def test_set_accuracy_nan_and_no_gap():
    assert "HAR - INC is HOMO n/a, OOD n/a" in s4_set_accuracy.describe(set_table(gap_nan=True))
    roles_only = set_table().query("~row.str.contains(' - ')", engine="python")
    assert "no paired gap" in s4_set_accuracy.describe(roles_only)


def ratio_table(nan: bool = False) -> pd.DataFrame:
    cells = [
        ("homo", 0.0, (0.225, 0.125, 0.35)),
        ("homo", 0.5, (0.3, 0.2, 0.4)),
        ("homo", 1.0, (NAN, NAN, NAN) if nan else (0.25, 0.1, 0.375)),
        ("ood", 0.0, (0.2, 0.1, 0.3)),
        ("ood", 1.0, (0.3, 0.2, 0.4)),
    ]
    return pd.DataFrame(
        [
            {"model": "m", "testset": t, "self_fraction": f, "variant": f"v{f}", **est("acc", *acc, 40)}
            for t, f, acc in cells
        ]
    )


def test_consistency_ratio_ends_and_best_share():
    text = s4_consistency_ratio.describe(ratio_table())
    assert (
        "HOMO 22.5 [12.5, 35.0] at f = 0 to 25.0 [10.0, 37.5] at f = 1 (best at f = 0.5, 30.0); OOD 20.0 "
        "[10.0, 30.0] at f = 0 to 30.0 [20.0, 40.0] at f = 1 (best at f = 1, 30.0)"
    ) in text
    assert "intermediate mix on 1 of 2 test sets" in text


def test_consistency_ratio_nan_and_one_row():
    assert "n/a at f = 1" in s4_consistency_ratio.describe(ratio_table(nan=True))
    text = s4_consistency_ratio.describe(ratio_table().iloc[:1])
    assert "HOMO 22.5 [12.5, 35.0] at f = 0 (best at f = 0, 22.5)" in text


def kl_table(nan: bool = False) -> pd.DataFrame:
    cells = [
        ("base", 0.48, 0.225),
        ("har-convergence", 0.25, NAN if nan else 0.35),
        ("inc-convergence", 0.58, 0.2),
        ("self-convergence", 0.3, 0.3),
    ]
    return pd.DataFrame(
        [
            {
                "model": "m",
                "testset": "homo",
                "variant": v,
                "n": 40,
                "mean_kl": kl,
                "median_kl": kl / 2,
                "accuracy": acc,
            }
            for v, kl, acc in cells
        ]
    )


def test_kl_lowest_and_highest_tuned_variant():
    text = s4_kl.describe(kl_table())
    assert (
        "m, mean KL(base || tuned) over the 3 tuned variants: HOMO lowest 0.250 nats (har-convergence, accuracy "
        "35.0%), highest 0.580 nats (inc-convergence, accuracy 20.0%). The most accurate tuned variant is also "
        "the closest to the base model on 1 of 1 test sets."
    ) == text


def test_kl_nan_and_base_only():
    text = s4_kl.describe(kl_table(nan=True))
    assert "accuracy n/a" in text and "on 0 of 1 test sets" in text
    assert "HOMO n/a" in s4_kl.describe(kl_table().iloc[:1])


def rank_table() -> pd.DataFrame:
    rows = []
    for testset, partial_r, p in (("homo", 0.43, 0.001), ("id", NAN, NAN)):
        for variant, r in (
            ("base", 0.1),
            ("har-convergence", 0.7),
            ("inc-convergence", 0.3),
            ("self-convergence", 0.5),
            ("self-ratio-0.5-convergence", 0.6),
        ):
            rows.append(
                {
                    "model": "m",
                    "testset": testset,
                    "variant": variant,
                    "n": 40,
                    "mean_rank_r": r,
                    "tuned_acc": 0.3,
                    "base_acc": 0.2,
                    "n_models": 4,
                    "partial_r": partial_r,
                    "p": p,
                }
            )
    return pd.DataFrame(rows)


def test_rank_correlation_partial_r_per_test_set():
    text = s4_rank_correlation.describe(rank_table())
    assert "over 4 tuned variants, controlling for base accuracy: HOMO 0.43 (p 0.001), mean rank r 0.30 to 0.70" in text
    assert "ID n/a (undefined over 4 tuned models), mean rank r 0.30 to 0.70" in text


S3_TABLES = {
    s3_alignment_gaps: gaps_table,
    s3_preference_effects: preference_table,
    s3_fact_knowledge: knowledge_table,
    s3_factscore_tiers: tiers_table,
    s3_token_shift: shift_table,
    s3_verifiers: verifier_table,
}
S4_TABLES = {
    s4_set_accuracy: set_table,
    s4_consistency_ratio: ratio_table,
    s4_kl: kl_table,
    s4_rank_correlation: rank_table,
}


@pytest.mark.parametrize(
    "module,make", [*S3_TABLES.items(), *S4_TABLES.items()], ids=lambda x: getattr(x, "__name__", "")
)
def test_two_models_are_both_described_and_many_are_cut(module, make):
    two = module.describe(with_models(make(), 2))
    assert two.startswith("m") and "other-model-1" in two and not two.endswith("...")
    many = module.describe(with_models(make(), 5))
    assert "other-model-2" in many and "other-model-3" not in many and many.endswith(" ...")


def synthetic_s4(n_items: int = 12):
    """Predictions of base + tuned variants on two test sets and the base probe of the same items."""
    rng = np.random.default_rng(0)
    variants = [
        "base",
        "har-convergence",
        "inc-convergence",
        "self-convergence",
        "self-ratio-0.5-convergence",
        "inc-context-convergence",
    ]
    base_probs = [list(rng.dirichlet([1, 1, 1, 1])) for _ in range(n_items)]
    rows = []
    for variant in variants:
        for testset in ("homo", "ood"):
            for i in range(n_items):
                probs = base_probs[i] if rng.random() < 0.5 else list(rng.dirichlet([1, 1, 1, 1]))
                rows.append(
                    {
                        "model": "m",
                        "id": f"{testset}:{i}",
                        "testset": testset,
                        "variant": variant,
                        "probs": probs,
                        "correct": int(np.argmax(probs)) == 0,
                    }
                )
    probes = pd.DataFrame(
        [
            {"model": "m", "id": f"{t}:{i}", "probs": base_probs[i], "correct": int(np.argmax(base_probs[i])) == 0}
            for t in ("homo", "ood")
            for i in range(n_items)
        ]
    )
    return pd.DataFrame(rows), probes


def test_s4_describe_on_tables_the_modules_build():
    predictions, probes = synthetic_s4()
    joined = aligned_with_base(predictions, probes)
    points = s4_rank_correlation.per_variant(joined)
    tables = {
        s4_set_accuracy: s4_set_accuracy.build_table(predictions, "convergence", 50, 0.95, 0),
        s4_consistency_ratio: s4_consistency_ratio.build_table(predictions, "convergence", 50, 0.95, 0),
        s4_kl: s4_kl.build_table(joined),
        s4_rank_correlation: points.merge(
            s4_rank_correlation.partial_rows(points), on=["model", "testset"], how="left"
        ),
    }
    for module, table in tables.items():
        text = module.describe(table)
        assert text.startswith("m, ") and "HOMO" in text and "OOD" in text, (module.__name__, text)
