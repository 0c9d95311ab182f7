"""What a seed sweep runs and compares (light: the workflow imports it at parse time); the
analysis is ``factgap.seeds``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def seed_root(results_dir: str, seed: int) -> str:
    """Results folder of one seed of a sweep (also of the SLURM seed array, ``factgap.cluster.seed_overlay``)."""
    return f"{results_dir.rstrip('/')}/seed-{seed}"


@dataclass(frozen=True)
class PairedComparison:
    """Score ``a`` minus score ``b`` on the same test items: a (variant, prompt) on each side."""

    name: str
    variant_a: str
    prompt_a: str
    variant_b: str
    prompt_b: str


def study_comparisons(study: str, config: Mapping) -> list[PairedComparison]:
    """The paired comparisons behind a study's headline (S3 and S4: none yet, their cells only)."""
    from factgap.naming import CHECKPOINTS, KNOWN_SET, UNKNOWN_SET, variant_label
    from factgap.studies import s1, s2

    if study == "s1":
        return [
            PairedComparison(
                f"{t}: early stop - convergence",
                variant_label(t, "early_stop"),
                "zero_shot",
                variant_label(t, "convergence"),
                "zero_shot",
            )
            for t in s1.training_sets(config)
        ]
    if study == "s2":
        out = [
            PairedComparison(
                f"Known - Unknown ({c})",
                variant_label(KNOWN_SET, c),
                "zero_shot",
                variant_label(UNKNOWN_SET, c),
                "zero_shot",
            )
            for c in CHECKPOINTS
        ]
        out += [
            PairedComparison(f"{v.label}: {prompt} - zero_shot", v.label, prompt, v.label, "zero_shot")
            for v in s2.variants(config)[1:]
            for prompt in config["evaluation"]["prompts"]
            if prompt != "zero_shot"
        ]
        return out
    return []


def study_prediction_files(study: str, config: Mapping, layout) -> list:
    """The prediction files (``ResultFile``) the study's comparisons read, in one seed's layout."""
    from factgap.naming import sft_variants
    from factgap.studies import datasets, models, s1, s2

    if study == "s1":
        return layout.predictions(
            models(config), datasets(config, "s1"), sft_variants(s1.training_sets(config)), ["zero_shot"]
        )
    if study == "s2":
        return layout.predictions(
            models(config), datasets(config, "s2"), s2.variants(config)[1:], config["evaluation"]["prompts"]
        )
    return []


# ---- the sweep driver (local: one Snakemake run per seed, then the across-seed summary) -----------
def sweep_overlays(seeds: list[int], results_dir: str, studies: list[str] | None) -> tuple[list[dict], dict]:
    """Config overlays: one per seed (its seed and results folder, the shared models folder), and the
    one of the summary run (the seeds it reads). ``studies`` overrides config ``studies`` in all."""
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"duplicate seeds: {seeds}")
    shared = {"models_dir": f"{results_dir.rstrip('/')}/models"}
    if studies is not None:
        shared["studies"] = list(studies)
    per_seed = [{**shared, "seed": s, "results_dir": seed_root(results_dir, s)} for s in seeds]
    return per_seed, {**shared, "seeds": list(seeds)}


def sweep_commands(
    snakemake: list[str], configfiles: list[str], overlay_paths: list[str], summary_overlay: str, extra: list[str] = ()
) -> list[list[str]]:
    """Command lines: each seed's full run, then the ``across_seeds`` target. The seeds run one after
    another: on one machine each run already uses every core, and the first prepares the shared model."""
    runs = [[*snakemake, "--configfile", *configfiles, path, *extra] for path in overlay_paths]
    return [*runs, [*snakemake, "--configfile", *configfiles, summary_overlay, *extra, "across_seeds"]]
