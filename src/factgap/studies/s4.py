"""Study S4 (Ren et al. 2024): is instruction tuning learning, or aligning with what the model believes?"""

from __future__ import annotations

from collections.abc import Mapping

from factgap.naming import BASE_VARIANT, Variant, sft_variant
from factgap.paths import ResultsLayout
from factgap.studies import ReportSpec, bootstrap_options, models

MMLU = "mmlu"  # name of the MMLU tests in result paths
BASE_SETS = ("har", "inc", "self")


def dataset(config: Mapping) -> str:
    return config["s4"]["dataset"]["name"]


def ratio_set(fraction: float) -> str:
    return f"self-ratio-{fraction:g}"


def training_sets(config: Mapping) -> list[str]:
    s4 = config["s4"]
    names = [*BASE_SETS, *(ratio_set(f) for f in sorted(s4["consistency_ratios"]))]
    if s4["contextualized"]:
        names.append("inc-context")
    return names


def variants(config: Mapping) -> list[Variant]:
    return [BASE_VARIANT, *(sft_variant(t, c) for t in training_sets(config) for c in config["s4"]["checkpoints"])]


def id_subjects(config: Mapping) -> list[str]:
    from factgap.s4.domains import in_domain_subjects

    chosen = config["s4"]["mmlu"]["id_subjects"]
    return list(chosen) if chosen else list(in_domain_subjects(config["s4"]["domain"]))


def ood_subjects(config: Mapping) -> list[str]:
    from factgap.s4.domains import MMLU_SUBJECTS

    mmlu = config["s4"]["mmlu"]
    inside = set(id_subjects(config))
    subjects = list(mmlu["ood_subjects"]) or [s for s in MMLU_SUBJECTS if s not in inside]
    cap = mmlu["max_ood_subjects"]
    if cap is not None and len(subjects) > cap:
        import random

        subjects = sorted(random.Random(f"{config['seed']}:ood-subjects").sample(sorted(subjects), cap))
    return subjects


def check_config(config: Mapping) -> None:
    """S4 rules the schema cannot express (named keys)."""
    from factgap.configuration import config_error
    from factgap.s4.domains import DOMAIN_SUBJECTS

    s4 = config["s4"]
    if not s4["mmlu"]["id_subjects"] and s4["domain"] not in DOMAIN_SUBJECTS:
        raise config_error(
            "s4.mmlu.id_subjects",
            f"empty, and domain {s4['domain']!r} has no row in the domain -> "
            f"MMLU table ({sorted(DOMAIN_SUBJECTS)}): name the ID subjects",
        )
    if both := sorted(set(id_subjects(config)) & set(s4["mmlu"]["ood_subjects"])):
        raise config_error("s4.mmlu.ood_subjects", f"{both} are also ID subjects")
    if dataset(config) == MMLU:
        raise config_error("s4.dataset.name", f"{MMLU!r} is the name of the MMLU tests")


def reports(config: Mapping, layout: ResultsLayout) -> list[ReportSpec]:
    ms, data = models(config), dataset(config)
    boot = bootstrap_options(config)
    checkpoint = config["s4"]["checkpoints"][-1]
    predictions = layout.mc_predictions(ms, data, variants(config))
    probes = layout.mc_probes(ms, [data, MMLU])
    ratios = sorted(config["s4"]["consistency_ratios"])
    return [
        ReportSpec(
            "s4_set_accuracy",
            "S4 Table 1 analogue: HAR / INC / SELF (and INC with context) x HOMO / ID / OOD accuracy, 0-shot.",
            {"predictions": predictions},
            {"checkpoint": checkpoint, **boot},
        ),
        ReportSpec(
            "s4_consistency_ratio",
            "S4: accuracy as the share of SELF answers among INC's questions grows.",
            {"predictions": predictions},
            {"checkpoint": checkpoint, "ratios": ratios, **boot},
        ),
        ReportSpec(
            "s4_rank_correlation",
            "S4: rank correlation of base (k-shot) and tuned (0-shot) option orders, and its partial Spearman "
            "correlation with tuned accuracy controlling for base accuracy.",
            {"predictions": predictions, "probes": probes},
            {"seed": config["seed"]},
        ),
        ReportSpec(
            "s4_kl",
            "S4: KL(base k-shot || tuned 0-shot) of the option distributions, per test set.",
            {"predictions": predictions, "probes": probes},
            {},
        ),
    ]
