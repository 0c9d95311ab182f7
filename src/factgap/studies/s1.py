"""Study S1 (Gekhman et al. 2024): how fast Unknown examples are fitted, and what fitting them costs."""

from __future__ import annotations

from collections.abc import Mapping

from factgap.naming import (
    CHECKPOINTS,
    KNOWN_SET,
    UNKNOWN_SET,
    mixture_set,
    sft_variants,
    single_category_set,
    variant_label,
)
from factgap.paths import ResultsLayout
from factgap.studies import ReportSpec, bootstrap_options, datasets, models


def dynamics_set(config: Mapping) -> str:
    return mixture_set(config["s1"]["dynamics_percentage"])


def idk_set(config: Mapping) -> str | None:
    s1 = config["s1"]
    return mixture_set(s1["dynamics_percentage"], relabel_unknown=True) if s1["idk_variant"] else None


def category_set(config: Mapping, category: str) -> str:
    """The single-category set; Unknown-only is the S2 Unknown set when that group is exactly Unknown."""
    if category == "Unknown" and config["splits"]["unknown_categories"] == ["Unknown"]:
        return UNKNOWN_SET  # identical in distribution: trained once
    return single_category_set(category)


def category_sets(config: Mapping) -> list[str]:
    return [category_set(config, c) for c in config["s1"]["single_category_sets"]]


def training_sets(config: Mapping) -> list[str]:
    names = [mixture_set(p) for p in sorted(config["s1"]["unknown_percentages"])]
    names += category_sets(config)
    if idk := idk_set(config):
        names.append(idk)
    return list(dict.fromkeys(names))


def comparisons(config: Mapping) -> list[tuple[str, str]]:
    """Pairs of variant labels compared by the paired t-test over test chunks."""
    pairs = [(variant_label(t, "early_stop"), variant_label(t, "convergence")) for t in training_sets(config)]
    pairs += [(variant_label(KNOWN_SET, c), variant_label(UNKNOWN_SET, c)) for c in CHECKPOINTS]
    return pairs


def idk_pairs(config: Mapping) -> list[tuple[str, str]]:
    """(relabelled, plain) variant labels of the "I don't know" comparison."""
    idk = idk_set(config)
    return [(variant_label(idk, c), variant_label(dynamics_set(config), c)) for c in CHECKPOINTS] if idk else []


def reports(config: Mapping, layout: ResultsLayout) -> list[ReportSpec]:
    ms, ds, sets = models(config), datasets(config, "s1"), training_sets(config)
    boot = bootstrap_options(config)
    groups = {"known": config["splits"]["known_categories"], "unknown": config["splits"]["unknown_categories"]}
    zero_shot = layout.predictions(ms, ds, sft_variants(sets), ["zero_shot"])
    dynamics = [dynamics_set(config)]
    specs = [
        ReportSpec(
            "s1_training_dynamics",
            "S1 headline figure: train accuracy on Known vs Unknown examples and dev accuracy per epoch.",
            {"histories": layout.histories(ms, ds, dynamics), "summaries": layout.summaries(ms, ds, dynamics)},
            {**groups, **boot},
        ),
        ReportSpec(
            "s1_category_accuracy",
            "S1: test accuracy per knowledge category for each single-category model.",
            {
                "predictions": layout.predictions(
                    ms, ds, sft_variants(dict.fromkeys([*category_sets(config), KNOWN_SET, UNKNOWN_SET])), ["zero_shot"]
                )
            },
            boot,
        ),
        ReportSpec(
            "s1_linear_fit",
            "S1: accuracy = b0 + b_kn N_kn/|D| + b_unk N_unk/|D| over fitted Known/Unknown examples.",
            {
                "histories": layout.histories(ms, ds, sets),
                "summaries": layout.summaries(ms, ds, sets),
                "predictions": zero_shot,
            },
            groups,
        ),
        ReportSpec(
            "s1_significance",
            "S1: paired t-tests over test chunks (early stop vs convergence; Known vs Unknown).",
            {"predictions": zero_shot},
            {
                "comparisons": comparisons(config),
                "n_chunks": config["analysis"]["significance_chunks"],
                "seed": config["seed"],
            },
        ),
    ]
    if pairs := idk_pairs(config):
        labels = list(dict.fromkeys(label for pair in pairs for label in pair))
        variants = [v for v in sft_variants(sets) if v.label in labels]
        specs.append(
            ReportSpec(
                "s1_idk",
                'S1 variant: Unknown examples relabelled "I don\'t know" vs the plain mixture.',
                {"predictions": layout.predictions(ms, ds, variants, ["zero_shot"])},
                {"pairs": pairs, **boot},
            )
        )
    return specs
