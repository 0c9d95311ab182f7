"""The names every study shares, and the grammar of training-set and variant names.

Dependency-free on purpose: the Snakemake rule files import it at parse time, and so do the
library and the reports, so that nothing re-declares a category, a checkpoint or a prompt mode.

A *variant* is what an evaluation runs: the base model, or an adapter trained by a method on a
training set and exported at a checkpoint. Its path segment is ``base`` or
``<method>/<training_set>/<checkpoint>`` (three path segments, so no name is ever split on a
hyphen). Its label in tables is ``<training_set>-<checkpoint>`` for supervised fine-tuning (the
names S1/S2 tables have always used) and ``<method>:<training_set>-<checkpoint>`` otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# SliCK knowledge categories (Gekhman et al. 2024), from most to least known.
CATEGORIES = ("HighlyKnown", "MaybeKnown", "WeaklyKnown", "Unknown")
# Which trained adapter an evaluation uses: best dev accuracy, or the last epoch.
CHECKPOINTS = ("early_stop", "convergence")
# Test-time prompt settings of S2.
PROMPT_MODES = ("zero_shot", "four_shot", "four_shot_cot")
# Training methods: supervised fine-tuning and the preference-tuning family of S3.
METHODS = ("sft", "dpo", "ipo", "kto", "cpo", "rso")
SFT = "sft"
PREFERENCE_METHODS = METHODS[1:]
BASE = "base"
# Test sets of a QA dataset: in-distribution test, held-out relations.
QA_TESTSETS = ("test", "ood")

# Names a user chooses (models, datasets): no slash, no leading punctuation.
USER_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
# A training-set name is one path segment; studies give their sets telling names (known,
# mix-unknown-50, only-HighlyKnown, general+atomic, self-ratio-0.2, ...).
TRAINING_SET_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"
METHOD_PATTERN = "|".join(METHODS)
CHECKPOINT_PATTERN = "|".join(CHECKPOINTS)
VARIANT_PATTERN = rf"{BASE}|(?:{METHOD_PATTERN})/{TRAINING_SET_PATTERN}/(?:{CHECKPOINT_PATTERN})"
PROMPT_PATTERN = "|".join(PROMPT_MODES)


@dataclass(frozen=True, order=True)
class Variant:
    """The base model (``training_set is None``) or one trained adapter."""

    method: str | None = None
    training_set: str | None = None
    checkpoint: str | None = None

    def __post_init__(self):
        if self.training_set is None:
            if self.method is not None or self.checkpoint is not None:
                raise ValueError("the base variant has no method or checkpoint")
            return
        if self.method not in METHODS:
            raise ValueError(f"unknown training method {self.method!r}; valid: {METHODS}")
        if self.checkpoint not in CHECKPOINTS:
            raise ValueError(f"unknown checkpoint {self.checkpoint!r}; valid: {CHECKPOINTS}")
        if not re.fullmatch(TRAINING_SET_PATTERN, self.training_set):
            raise ValueError(f"training set name {self.training_set!r} does not match {TRAINING_SET_PATTERN}")

    @property
    def is_base(self) -> bool:
        return self.training_set is None

    @property
    def path(self) -> str:
        """Path segment(s) of the variant's outputs."""
        return BASE if self.is_base else f"{self.method}/{self.training_set}/{self.checkpoint}"

    @property
    def label(self) -> str:
        """Name of the variant in tables and figures."""
        if self.is_base:
            return BASE
        name = f"{self.training_set}-{self.checkpoint}"
        return name if self.method == SFT else f"{self.method}:{name}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "variant": self.label,
            "method": self.method,
            "training_set": self.training_set,
            "checkpoint": self.checkpoint,
        }


BASE_VARIANT = Variant()


def sft_variant(training_set: str, checkpoint: str) -> Variant:
    return Variant(SFT, training_set, checkpoint)


def sft_variants(training_sets, checkpoints=CHECKPOINTS) -> list[Variant]:
    """Every (training set, checkpoint) adapter of supervised fine-tuning, in a stable order."""
    return [sft_variant(t, c) for t in training_sets for c in checkpoints]


def parse_variant_path(path: str) -> Variant:
    """Inverse of ``Variant.path``."""
    if path == BASE:
        return BASE_VARIANT
    parts = path.split("/")
    if len(parts) != 3:
        raise ValueError(f"variant path {path!r} is not 'base' or '<method>/<training_set>/<checkpoint>'")
    return Variant(*parts)


def parse_variant_label(label: str) -> Variant:
    """Inverse of ``Variant.label`` (the checkpoint is a closed set, so the split is unambiguous)."""
    if label == BASE:
        return BASE_VARIANT
    method, _, name = label.rpartition(":") if ":" in label else (SFT, "", label)
    for checkpoint in CHECKPOINTS:
        if name.endswith(f"-{checkpoint}"):
            return Variant(method, name[: -len(checkpoint) - 1], checkpoint)
    raise ValueError(f"variant label {label!r} does not end in -<checkpoint> ({CHECKPOINTS})")


def describe_variant(label: str) -> str:
    """Words for a variant label, for figure axes: 'trained on 50% Unknown ("I don't know"), early stop'."""
    variant = parse_variant_label(label)
    if variant.training_set is None:
        return "base model"
    try:
        spec = parse_qa_training_set(variant.training_set)
        if spec.unknown_fraction is None:
            data = f"only {spec.category}"
        elif spec.name in (KNOWN_SET, UNKNOWN_SET):
            data = spec.name.capitalize()
        else:
            data = f"{round(100 * spec.unknown_fraction)}% Unknown" + (
                ' ("I don\'t know")' if spec.relabel_unknown else ""
            )
    except ValueError:  # S3 / S4 training sets keep their names
        data = variant.training_set
    method = "" if variant.method == SFT else f"{variant.method.upper()} "
    return f"{method}{data}, {variant.checkpoint.replace('_', ' ')}"


def variant_label(training_set: str, checkpoint: str, method: str = SFT) -> str:
    return Variant(method, training_set, checkpoint).label


# ---- S1/S2 training-set names ---------------------------------------------------------------
KNOWN_SET, UNKNOWN_SET = "known", "unknown"


def mixture_set(unknown_percentage: int, relabel_unknown: bool = False) -> str:
    """X% Unknown / (100-X)% Known; 0% and 100% are the S2 known / unknown sets (trained once)."""
    if not 0 <= unknown_percentage <= 100:
        raise ValueError(f"unknown percentage {unknown_percentage} is outside 0-100")
    if relabel_unknown:
        return f"idk-mix-unknown-{unknown_percentage}"
    return {0: KNOWN_SET, 100: UNKNOWN_SET}.get(unknown_percentage, f"mix-unknown-{unknown_percentage}")


def single_category_set(category: str) -> str:
    if category not in CATEGORIES:
        raise ValueError(f"unknown SliCK category {category!r}; valid: {CATEGORIES}")
    return f"only-{category}"


@dataclass(frozen=True)
class QATrainingSet:
    """What a QA training-set name asks for."""

    name: str
    unknown_fraction: float | None  # None: a single-category set
    category: str | None = None
    relabel_unknown: bool = False  # Unknown examples answer "I don't know"


_MIXTURE = re.compile(r"(idk-)?mix-unknown-(100|[1-9]?[0-9])")
_SINGLE = re.compile(rf"only-({'|'.join(CATEGORIES)})")


def parse_qa_training_set(name: str) -> QATrainingSet:
    """Inverse of ``mixture_set`` / ``single_category_set`` (and the S2 names known, unknown)."""
    if name == KNOWN_SET:
        return QATrainingSet(name, 0.0)
    if name == UNKNOWN_SET:
        return QATrainingSet(name, 1.0)
    if m := _MIXTURE.fullmatch(name):
        return QATrainingSet(name, int(m.group(2)) / 100, relabel_unknown=bool(m.group(1)))
    if m := _SINGLE.fullmatch(name):
        return QATrainingSet(name, None, m.group(1))
    raise ValueError(
        f"{name!r} is not a QA training set (known, unknown, [idk-]mix-unknown-<0-100>, only-<{'|'.join(CATEGORIES)}>)"
    )
