"""Study designs: for a config, which training sets, variants, comparisons and reports a study needs.

Pure functions over the (validated) config dict; the rule files only ask them. A report is one
row of a study's table: the library module that builds it, the result files it reads (with their
metadata, from ``factgap.paths``) and the options its ``build`` function takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from factgap.paths import ResultFile


@dataclass(frozen=True)
class ReportSpec:
    name: str  # also the name of the rule (plot_<name>) and of the published files
    doc: str
    files: Mapping[str, Sequence[ResultFile]]  # role -> files
    options: Mapping = field(default_factory=dict)

    @property
    def module(self) -> str:
        return f"factgap.reports.{self.name}"

    def paths(self) -> dict[str, list[str]]:
        return {role: [f.path for f in files] for role, files in self.files.items()}

    def meta(self) -> dict[str, list[dict]]:
        return {role: [f.meta for f in files] for role, files in self.files.items()}


def models(config: Mapping) -> list[str]:
    return sorted(config["models"])


def datasets(config: Mapping, study: str) -> list[str]:
    """The QA datasets ``study`` (s1, s2) trains and tests on (config ``datasets.<name>.studies``)."""
    return sorted(d for d, spec in config["datasets"].items() if study in spec["studies"])


def datasets_with_ood(config: Mapping, study: str) -> list[str]:
    return [d for d in datasets(config, study) if config["datasets"][d]["ood_relations"]]


def datasets_with_popularity(config: Mapping, study: str) -> list[str]:
    """Datasets whose loader's records carry a popularity value (GeoNames population, PopQA s_pop)."""
    from factgap.data.loaders import qa_loader

    return [d for d in datasets(config, study) if qa_loader(config["datasets"][d]["loader"]).popularity]


def bootstrap_options(config: Mapping) -> dict:
    a = config["analysis"]
    return {"n_resamples": a["bootstrap_resamples"], "confidence": a["confidence"], "seed": config["seed"]}
