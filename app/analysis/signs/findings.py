"""What the dimension rules share: the subject, a finding, a comparison awaiting its p-value."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.analysis.cells import CellKey
from app.analysis.signs.rules import Severity
from app.analysis.stats import Moments

Cells = Callable[[str, str], Mapping[CellKey, Moments]]  # (pulse, dimension) -> published


@dataclass(frozen=True)
class Subject:
    """The team or place a rule is about."""

    scope: str
    code: str
    place: str
    formed_on: date | None = None

    def cell(self, segment_type: str | None = None, segment: str | None = None) -> CellKey:
        """This subject's cell, whole or one segment."""
        return CellKey(self.scope, self.code, segment_type, segment)


@dataclass(frozen=True)
class Finding:
    """A rule that fired: everything of a flag but where it belongs."""

    rule: str
    dimension: str | None
    severity: Severity
    message: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Comparison:
    """A comparison made, waiting for its adjusted p-value."""

    rule: str
    dimension: str
    p: float
    size: float  # how far apart, to choose between comparisons of one rule and dimension
    grade: Callable[[float], Severity | None]  # severity, given the adjusted p-value
    message: Callable[[str], str]  # message, given the p-value in words
    evidence: dict[str, Any]


def label(dimension: str) -> str:
    """A dimension in words: ``new_ways_of_working`` -> ``New ways of working``."""
    return dimension.replace("_", " ").capitalize()


def p_words(p: float) -> str:
    """A p-value as a message shows it."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def mean(moments: Moments) -> float:
    """The mean of a non-empty group."""
    return moments.total / moments.n
