"""The shared names and the grammar of training-set and variant names (round trips)."""

import re

import pytest

from factgap import naming
from factgap.naming import Variant


@pytest.mark.parametrize(
    "variant",
    [
        naming.BASE_VARIANT,
        Variant("sft", "known", "early_stop"),
        Variant("sft", "idk-mix-unknown-50", "convergence"),
        Variant("dpo", "general+atomic", "convergence"),
        Variant("kto", "general", "early_stop"),
        Variant("sft", "self-ratio-0.2", "early_stop"),
        Variant("sft", "har", "convergence"),
    ],
)
def test_variant_path_and_label_round_trip(variant):
    assert naming.parse_variant_path(variant.path) == variant
    assert naming.parse_variant_label(variant.label) == variant
    assert re.fullmatch(naming.VARIANT_PATTERN, variant.path)


def test_labels_keep_the_names_tables_have_always_used():
    assert Variant("sft", "mix-unknown-50", "early_stop").label == "mix-unknown-50-early_stop"
    assert Variant("dpo", "general", "convergence").label == "dpo:general-convergence"
    assert Variant("sft", "known", "convergence").path == "sft/known/convergence"
    assert naming.variant_label("unknown", "convergence") == "unknown-convergence"


@pytest.mark.parametrize("bad", ["known-final", "sft/known", "sgd/known/early_stop", "sft/known/last", ""])
def test_bad_variant_names_are_refused(bad):
    with pytest.raises(ValueError):
        naming.parse_variant_path(bad) if "/" in bad or not bad else naming.parse_variant_label(bad)


def test_variant_pattern_refuses_what_parse_refuses():
    for bad in ("sft/known", "sgd/known/early_stop", "sft/a/b/early_stop", "sft/known/final"):
        assert not re.fullmatch(naming.VARIANT_PATTERN, bad)


def test_base_variant_has_no_method():
    with pytest.raises(ValueError):
        Variant("sft", None, "early_stop")


@pytest.mark.parametrize(
    "name,fraction,category,idk",
    [
        ("known", 0.0, None, False),
        ("unknown", 1.0, None, False),
        ("mix-unknown-25", 0.25, None, False),
        ("idk-mix-unknown-50", 0.5, None, True),
        ("only-WeaklyKnown", None, "WeaklyKnown", False),
    ],
)
def test_qa_training_set_names(name, fraction, category, idk):
    spec = naming.parse_qa_training_set(name)
    assert (spec.unknown_fraction, spec.category, spec.relabel_unknown) == (fraction, category, idk)


def test_qa_training_set_builders_round_trip():
    for pct in (0, 25, 50, 100):
        assert naming.parse_qa_training_set(naming.mixture_set(pct)).unknown_fraction == pct / 100
    assert naming.mixture_set(50, relabel_unknown=True) == "idk-mix-unknown-50"
    for category in naming.CATEGORIES:
        assert naming.parse_qa_training_set(naming.single_category_set(category)).category == category
    for bad in ("mix-unknown-150", "everything", "only-Famous"):
        with pytest.raises(ValueError):
            naming.parse_qa_training_set(bad)
    with pytest.raises(ValueError):
        naming.mixture_set(101)


def test_variants_described_in_words_for_figure_axes():
    from factgap.naming import describe_variant

    assert describe_variant("base") == "base model"
    assert describe_variant("known-convergence") == "Known, convergence"
    assert describe_variant("idk-mix-unknown-50-early_stop") == '50% Unknown ("I don\'t know"), early stop'
    assert describe_variant("only-HighlyKnown-early_stop") == "only HighlyKnown, early stop"
    assert describe_variant("dpo:general+atomic-convergence") == "DPO general+atomic, convergence"
