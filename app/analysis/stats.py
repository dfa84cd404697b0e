"""Sufficient statistics (n, sum, sum of squares) and the tests built on them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from scipy import special, stats


@dataclass(frozen=True)
class Moments:
    """Count, sum and sum of squares of scores on the 1-5 scale."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    @classmethod
    def of(cls, values: Iterable[float]) -> Moments:
        """The moments of some scores."""
        n, total, total_sq = 0, 0.0, 0.0
        for value in values:
            n += 1
            total += value
            total_sq += value * value
        return cls(n, total, total_sq)

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.total + other.total, self.total_sq + other.total_sq)

    def __sub__(self, other: Moments) -> Moments:
        return Moments(self.n - other.n, self.total - other.total, self.total_sq - other.total_sq)

    @property
    def mean(self) -> float | None:
        """The mean, or None when empty."""
        return self.total / self.n if self.n > 0 else None

    @property
    def variance(self) -> float | None:
        """The sample variance (ddof=1), or None below two scores."""
        if self.n < 2:
            return None
        # Sums of floats can cancel to a hair below zero when every score is the same.
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))

    @property
    def sd(self) -> float | None:
        """The sample standard deviation (ddof=1), or None below two scores."""
        variance = self.variance
        return math.sqrt(variance) if variance is not None else None

    def ci95(self) -> tuple[float, float] | None:
        """The t-based 95% confidence interval of the mean, or None below two scores."""
        if self.n < 2 or self.variance is None:
            return None
        mean = self.total / self.n
        half = float(special.stdtrit(self.n - 1, 0.975)) * math.sqrt(self.variance / self.n)
        return (mean - half, mean + half)


Alternative = Literal["two-sided", "greater"]  # "greater": mean(a) > mean(b)


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance t-test: statistic, degrees of freedom, p of its alternative."""

    t: float
    df: float
    p: float
    alternative: Alternative = "two-sided"


NO_EVIDENCE = WelchResult(t=0.0, df=0.0, p=1.0)


def welch(a: Moments, b: Moments, alternative: Alternative = "two-sided") -> WelchResult:
    """Welch's t-test of mean(a) against mean(b); p=1 when it cannot be computed.

    ``greater`` is one-sided: the evidence that mean(a) is above mean(b).
    """
    # Each property is read once: this runs for every comparison of every subject.
    var_a, var_b = a.variance, b.variance
    if var_a is None or var_b is None:  # below two scores (so also when empty)
        return replace(NO_EVIDENCE, alternative=alternative)
    mean_a, mean_b = a.total / a.n, b.total / b.n
    diff = mean_a - mean_b
    se_a, se_b = var_a / a.n, var_b / b.n
    se2 = se_a + se_b
    if se2 <= 0.0:
        # Both groups gave one identical score each: no spread to test against. Equal means
        # are no evidence; different ones are as certain as the data can make them (but
        # one-sided, only in the direction tested).
        df = float(a.n + b.n - 2)
        if math.isclose(mean_a, mean_b, abs_tol=1e-12):
            return WelchResult(0.0, df, 1.0, alternative)
        certain = alternative == "two-sided" or diff > 0
        return WelchResult(math.copysign(math.inf, diff), df, 0.0 if certain else 1.0, alternative)
    t = diff / math.sqrt(se2)
    df = se2 * se2 / (se_a * se_a / (a.n - 1) + se_b * se_b / (b.n - 1))
    if alternative == "greater":
        p = float(special.stdtr(df, -t))
    else:
        p = 2.0 * float(special.stdtr(df, -abs(t)))
    return WelchResult(t, df, min(1.0, p), alternative)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    # Not in scipy; statsmodels has it, but is a heavy dependency for these few lines.
    return holm_smallest(pvalues, len(pvalues))


def holm_smallest(pvalues: Sequence[float], family: int) -> list[float]:
    """Holm-adjusted p-values of the smallest p-values of a family of ``family`` comparisons.

    The comparisons not given must each have a p-value no smaller than every one given (a
    warning sign needs an adjusted p below alpha, so those with a raw p of alpha or more
    can be counted without being kept). Holm's adjustment of a p-value reads only the
    p-values ranked before it and the family's size, so these are exactly the values the
    whole family's adjustment gives them.
    """
    if family < len(pvalues):
        raise ValueError("a family is never smaller than the comparisons given")
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, index in enumerate(sorted(range(len(pvalues)), key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (family - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the order given."""
    if not pvalues:
        return []
    return [float(p) for p in stats.false_discovery_control(list(pvalues), method="bh")]


def adjust(pvalues: Sequence[float], at_least: int = 1) -> list[float]:
    """Holm-adjusted p-values over a family of at least ``at_least`` comparisons."""
    # Pad with p=1 so a family is never treated as smaller than the floor.
    padding = max(0, at_least - len(pvalues))
    return holm([*pvalues, *([1.0] * padding)])[: len(pvalues)]
