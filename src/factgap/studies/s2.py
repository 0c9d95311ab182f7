"""Study S2 (Gong et al. 2025): Known- vs Unknown-trained models, OOD decay, in-context mitigation."""

from __future__ import annotations

from collections.abc import Mapping

from factgap.naming import BASE_VARIANT, KNOWN_SET, UNKNOWN_SET, Variant, sft_variants
from factgap.paths import ResultsLayout
from factgap.studies import ReportSpec, bootstrap_options, datasets, datasets_with_ood, datasets_with_popularity, models


def training_sets(config: Mapping) -> list[str]:
    return [KNOWN_SET, UNKNOWN_SET]


def variants(config: Mapping) -> list[Variant]:
    return [BASE_VARIANT, *sft_variants(training_sets(config))]


def on_bios(config: Mapping) -> bool:
    """S2 on S3's bio set too (s2.wikibios): Known / Unknown people, FActScore of the fine-tuned models."""
    return bool(config["s2"]["wikibios"]["enabled"])


def bio_files(config: Mapping, layout: ResultsLayout) -> dict[str, list]:
    """The bio report inputs: test FActScores of the base and every SFT variant, and the test people's
    categories (one file per model)."""
    from factgap.paths import ResultFile
    from factgap.studies import s3

    people, ms = s3.people_set(config), models(config)
    scores = [
        f
        for v in variants(config)
        for f in layout.s3_files(ms, people, v.path, "scores-test", dataset=people, variant=v.label)
    ]
    sets = [ResultFile(layout.bio_set(m, people, "test"), {"model": m, "dataset": people}) for m in ms]
    return {"bio_scores": scores, "bio_people": sets}


def reports(config: Mapping, layout: ResultsLayout) -> list[ReportSpec]:
    ms, ds, vs = models(config), datasets(config, "s2"), variants(config)
    boot = bootstrap_options(config)
    zero_shot = layout.predictions(ms, ds, vs, ["zero_shot"])
    gap_files: dict[str, list] = {"predictions": zero_shot}
    gap_options = {"known_set": KNOWN_SET, "unknown_set": UNKNOWN_SET, **boot}
    if on_bios(config):
        from factgap.studies import s3

        gap_files.update(bio_files(config, layout))
        gap_options["verifier"] = s3.primary_verifier(config)
    specs = [
        ReportSpec(
            "s2_factuality_gap",
            "S2 Table 1 analogue: Known- vs Unknown-trained, early stop vs convergence (0-shot EM; FActScore on bios).",
            gap_files,
            gap_options,
        )
    ]
    if not ds:  # S2 on bios alone: no QA prompts to compare
        return specs
    specs += [
        ReportSpec(
            "s2_icl_gains",
            "S2 Table 3 analogue: 4-shot and 4-shot CoT gains over 0-shot for every model variant.",
            {"predictions": layout.predictions(ms, ds, vs, config["evaluation"]["prompts"])},
            boot,
        ),
    ]
    if with_popularity := datasets_with_popularity(config, "s2"):
        specs.append(
            ReportSpec(
                "s2_popularity",
                "Exact match and the Known/Unknown gap by subject popularity bucket (not in the papers).",
                {"predictions": layout.predictions(ms, with_popularity, vs, ["zero_shot"])},
                {"n_buckets": config["analysis"]["popularity_buckets"], **boot},
            )
        )
    if with_ood := datasets_with_ood(config, "s2"):
        trained = vs[1:]
        specs.append(
            ReportSpec(
                "s2_ood_gap",
                "S2 Table 2 analogue: the Known/Unknown gap on held-out relations, next to ID-OOD similarity.",
                {
                    "predictions": layout.predictions(ms, with_ood, trained, ["zero_shot"], "test")
                    + layout.predictions(ms, with_ood, trained, ["zero_shot"], "ood"),
                    "similarity": layout.similarities(ms, with_ood),
                },
                boot,
            )
        )
    return specs
