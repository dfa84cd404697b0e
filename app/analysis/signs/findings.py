"""What the dimension rules share: the subject, a finding, a comparison awaiting its p-value."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.analysis.cells import CellKey
from app.analysis.signs.rulebook import Rulebook
from app.analysis.signs.rules import Severity
from app.analysis.stats import Moments, WelchResult

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
    """A comparison made, waiting for its adjusted p-value and the thresholds to grade it by.

    What it holds depends on the published cells alone, never on the rulebook's thresholds
    or on which rules are enabled: a rule change grades the comparisons made before
    (``comparisons.Prepared``) without making them again.
    """

    rule: str
    dimension: str
    test: WelchResult
    size: float  # how far apart, to choose between comparisons of one rule and dimension
    # Severity, given the rulebook and the adjusted p-value.
    grade: Callable[[Rulebook, float], Severity | None]
    message: Callable[[Rulebook, str], str]  # message, given the rulebook and the p in words
    # Built only for a comparison that fires: most of them do not, and the rounding and
    # dictionaries of every comparison's evidence were a good part of a rule run.
    evidence: Callable[[], dict[str, Any]]

    @property
    def p(self) -> float:
        """The raw p-value of the comparison (one-sided for a fall or a shortfall)."""
        return self.test.p


def label(dimension: str) -> str:
    """A dimension in words: ``new_ways_of_working`` -> ``New ways of working``."""
    return dimension.replace("_", " ").capitalize()


def p_words(p_adjusted: float, comparisons: int) -> str:
    """An adjusted p-value as a message shows it, with the size of its family."""
    words = "p<0.001" if p_adjusted < 0.001 else f"p={p_adjusted:.3f}"
    return f"{words} after adjusting for {comparisons} comparisons"


def shown(value: float, limit: float | None) -> str:
    """A value to two decimals, or three when two would put it on the other side of a limit."""
    text = f"{value:.2f}"
    if limit is not None and (value < limit) != (float(text) < limit):
        text = f"{value:.3f}"
    return text


def side(moments: Moments) -> tuple[int, float, float | None]:
    """n, mean and sd of a group as evidence shows them (two decimals)."""
    sd = moments.sd
    return moments.n, round(mean(moments), 2), None if sd is None else round(sd, 2)


def mean(moments: Moments) -> float:
    """The mean of a non-empty group."""
    return moments.total / moments.n
