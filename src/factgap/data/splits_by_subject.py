"""Deterministic train/dev/test assignment by subject (pure).

Every question about one subject lands in one split, so dev and test never share a subject
with training, across relations too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def subject_unit_interval(subject: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def checked_fractions(fractions: Mapping[str, float]) -> tuple[float, float]:
    """(test, dev) shares, which must be >= 0 and leave room for train."""
    test, dev = float(fractions.get("test", 0.0)), float(fractions.get("dev", 0.0))
    if test < 0 or dev < 0 or test + dev >= 1:
        raise ValueError(f"split fractions must be >= 0 and leave room for train: {dict(fractions)}")
    return test, dev


def assign_split(subject: str, fractions: Mapping[str, float], seed: int) -> str:
    """'test' with probability fractions['test'], 'dev' with fractions['dev'], else 'train'."""
    test, dev = checked_fractions(fractions)
    u = subject_unit_interval(subject, seed)
    if u < test:
        return "test"
    if u < test + dev:
        return "dev"
    return "train"
