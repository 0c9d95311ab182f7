"""Shared pieces of the S3 reports: tier order."""

from __future__ import annotations

from collections.abc import Iterable

from factgap.factscore.entities import EMBEDDED_TIERS


def tier_order(tiers: Iterable[str]) -> list[str]:
    """Most to least popular: the embedded tiers in their order, any other tier after them (sorted)."""
    present = set(tiers)
    return [t for t in EMBEDDED_TIERS if t in present] + sorted(present - set(EMBEDDED_TIERS))
