"""The rules about one dimension of a team or place: levels and credible comparisons.

Every comparison made for a subject in a pulse (every enabled comparison rule, every
dimension) joins one family; its p-values are Holm-adjusted together (over at least
``Rulebook.min_comparisons``) before any fires. The unit is the one the false-alarm goal is
stated in: a team (or place) in a pulse.

``prepare`` makes the comparisons, which depend on the published cells alone; ``decide``
grades them by a rulebook. A rule change needs only the second.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import NamedTuple

from app.analysis.cells import TEAM
from app.analysis.signs import gaps, rules, trends
from app.analysis.signs.findings import (
    Cells,
    Comparison,
    Finding,
    Subject,
    label,
    p_words,
    shown,
    side,
)
from app.analysis.signs.rulebook import Rulebook
from app.analysis.snapshot import Snapshot
from app.analysis.stats import Moments, holm_smallest
from app.vocab import DIMENSIONS

ADOPTION = "new_ways_of_working"
# Every rule that would read a young team's slow adoption as a problem (DESIGN section 4).
ADOPTION_RULES = frozenset({"low_score", "falling", "sustained_decline", "below_place"})
SEVERITY_RANK = {"info": 0, "amber": 1, "red": 2}


class Level(NamedTuple):
    """A subject's published whole cell on one dimension, with its mean and sd worked out."""

    dimension: str
    moments: Moments
    mean: float | None
    sd: float | None


@dataclass(frozen=True)
class Prepared:
    """What the dimension rules read of a subject in a pulse, whatever the thresholds.

    ``wholes`` are the subject's published whole cells, by dimension (the level rules);
    ``tests`` the comparisons that could fire, in the order they were made; ``made`` counts
    every comparison made, by rule, fired or not: the family its rules enabled make. A
    comparison whose raw p is ``alpha`` or more is counted and not kept: Holm's adjustment
    never lowers a p-value, so no threshold could make it fire.
    """

    subject: Subject
    wholes: tuple[Level, ...]
    tests: tuple[Comparison, ...]
    made: Mapping[str, int]
    alpha: float  # the level the tests kept were chosen at
    baseline_pulses: int  # the falling baseline they pooled


def prepare(cells: Cells, snapshot: Snapshot, subject: Subject, rulebook: Rulebook) -> Prepared:
    """Every comparison the subject's published cells allow, for every comparison rule.

    The thresholds and which rules are enabled are not read (``decide`` applies them), so a
    rule change needs none of this made again; of ``rulebook``, only ``alpha`` and
    ``baseline_pulses`` are.
    """
    pulse = snapshot.pulse.key
    wholes: list[Level] = []
    tests: list[Comparison] = []
    for dimension in DIMENSIONS:
        current = cells(pulse, dimension)
        whole = current.get(subject.cell())
        if whole is None:
            continue
        wholes.append(Level(dimension, whole, whole.mean, whole.sd))
        tests += trends.falling(cells, snapshot, subject, dimension, whole, rulebook)
        tests += trends.sustained_decline(cells, snapshot, subject, dimension, whole, rulebook)
        for between in (gaps.hierarchy_gap, gaps.partner_divide, gaps.below_place):
            tests += between(current, subject, dimension)
    made = Counter(test.rule for test in tests)
    can_fire = tuple(test for test in tests if rules.credible(test.p, rulebook.alpha))
    return Prepared(
        subject, tuple(wholes), can_fire, dict(made), rulebook.alpha, rulebook.baseline_pulses
    )


def decide(prepared: Prepared, snapshot: Snapshot, rulebook: Rulebook) -> list[Finding]:
    """The level and comparison rules that fire for a subject in the snapshot's pulse."""
    if (rulebook.alpha, rulebook.baseline_pulses) != (prepared.alpha, prepared.baseline_pulses):
        raise ValueError("the comparisons were made under other statistical settings")
    subject = prepared.subject
    found: list[Finding] = []
    for level in prepared.wholes:
        found += _levels(subject, level, rulebook)
    enabled = {rule for rule in prepared.made if getattr(rulebook, rule).enabled}
    tests = [test for test in prepared.tests if test.rule in enabled]
    family = max(sum(prepared.made[rule] for rule in enabled), rulebook.min_comparisons)
    best: dict[tuple[str, str], tuple[tuple[int, float], Finding]] = {}
    for test, p_adjusted in zip(tests, holm_smallest([t.p for t in tests], family), strict=True):
        severity = test.grade(rulebook, p_adjusted)
        if severity is None:
            continue
        statistic = test.test.t
        evidence = {
            **test.evidence(),
            "test": "welch_t",
            "alternative": "one-sided" if test.test.alternative == "greater" else "two-sided",
            # An infinite t (no spread in either group) has no JSON number.
            "statistic": round(statistic, 3) if math.isfinite(statistic) else None,
            "df": round(test.test.df, 1),
            "p": _sig(test.p),
            "p_adjusted": _sig(p_adjusted),
            "method": "holm",
            "comparisons": family,
            "alpha": rulebook.alpha,
            **_thresholds(rulebook, test.rule),
        }
        message = test.message(rulebook, p_words(p_adjusted, family))
        finding = Finding(test.rule, test.dimension, severity, message, evidence)
        rank = (SEVERITY_RANK[finding.severity], test.size)
        key = (test.rule, test.dimension)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, finding)
    found += [finding for _, finding in best.values()]
    return [_adoption(finding, subject, snapshot) for finding in found]


def _thresholds(rulebook: Rulebook, rule: str) -> dict[str, float | None]:
    """A rule's thresholds, by their rulebook names (``amber_fall``, ``red_fall``)."""
    settings = getattr(rulebook, rule)
    return {f.name: getattr(settings, f.name) for f in fields(settings) if f.name != "enabled"}


def _levels(subject: Subject, level: Level, rulebook: Rulebook) -> list[Finding]:
    found: list[Finding] = []
    dimension, whole, whole_mean, whole_sd = level
    if whole_mean is None:
        return found
    low = rulebook.low_score
    if low.enabled:
        severity = rules.low_score(whole_mean, amber_below=low.amber_below, red_below=low.red_below)
        if severity is not None:
            n, mean, sd = side(whole)
            threshold = low.red_below if severity == "red" else low.amber_below
            figure = shown(whole_mean, threshold)
            message = f"{label(dimension)} averaged {figure} (n={n}), below {threshold:g}"
            evidence = {
                "n": n,
                "mean": mean,
                "sd": sd,
                "amber_below": low.amber_below,
                "red_below": low.red_below,
            }
            found.append(Finding("low_score", dimension, severity, message, evidence))
    spread = rulebook.polarised
    if subject.scope == TEAM and spread.enabled and whole_sd is not None:
        severity = rules.polarised(whole_sd, amber_sd=spread.amber_sd, red_sd=spread.red_sd)
        if severity is not None:
            n, mean, sd = side(whole)
            message = f"{label(dimension)} is polarised: standard deviation {sd:.2f} (n={n})"
            evidence = {
                "n": n,
                "mean": mean,
                "sd": sd,
                "amber_sd": spread.amber_sd,
                "red_sd": spread.red_sd,
            }
            found.append(Finding("polarised", dimension, severity, message, evidence))
    return found


def _adoption(finding: Finding, subject: Subject, snapshot: Snapshot) -> Finding:
    """Within the adoption window, a new way of working is expected to score low at first."""
    if (
        subject.scope != TEAM
        or finding.dimension != ADOPTION
        or finding.rule not in ADOPTION_RULES
        or not rules.in_adoption_window(
            subject.formed_on, snapshot.pulse.closes_on, snapshot.adoption_months
        )
    ):
        return finding
    formed = subject.formed_on.isoformat() if subject.formed_on else ""
    message = (
        f"{finding.message}; the team formed on {formed}, and new ways of working "
        "take 6 to 12 months to adopt"
    )
    evidence = {**finding.evidence, "adoption_window": True, "formed_on": formed}
    return Finding(finding.rule, finding.dimension, "info", message, evidence)


def _sig(p: float) -> float:
    return float(f"{p:.3g}")
