"""The rules about one dimension of a team or place: levels and credible comparisons.

Every comparison made for a subject in a pulse (every comparison rule, every dimension)
joins one family; its p-values are Holm-adjusted together (over at least
``Rulebook.min_comparisons``) before any fires. The unit is the one the false-alarm goal is
stated in: a team (or place) in a pulse.
"""

from __future__ import annotations

import math

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
from app.analysis.stats import Moments, adjust
from app.vocab import DIMENSIONS

ADOPTION = "new_ways_of_working"
# Every rule that would read a young team's slow adoption as a problem (DESIGN section 4).
ADOPTION_RULES = frozenset({"low_score", "falling", "sustained_decline", "below_place"})
SEVERITY_RANK = {"info": 0, "amber": 1, "red": 2}


def decide(cells: Cells, snapshot: Snapshot, subject: Subject, rulebook: Rulebook) -> list[Finding]:
    """The level and comparison rules that fire for a subject in the snapshot's pulse."""
    pulse = snapshot.pulse.key
    found: list[Finding] = []
    tests: list[Comparison] = []
    for dimension in DIMENSIONS:
        whole = cells(pulse, dimension).get(subject.cell())
        if whole is None:
            continue
        found += _levels(subject, dimension, whole, rulebook)
        tests += trends.falling(cells, snapshot, subject, dimension, whole, rulebook)
        tests += trends.sustained_decline(cells, snapshot, subject, dimension, whole, rulebook)
        for between in (gaps.hierarchy_gap, gaps.partner_divide, gaps.below_place):
            tests += between(cells(pulse, dimension), subject, dimension, rulebook)
    family = max(len(tests), rulebook.min_comparisons)
    best: dict[tuple[str, str], tuple[tuple[int, float], Finding]] = {}
    for test, p_adjusted in zip(tests, adjust([t.p for t in tests], family), strict=True):
        severity = test.grade(p_adjusted)
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
            **test.thresholds,
        }
        message = test.message(p_words(p_adjusted, family))
        finding = Finding(test.rule, test.dimension, severity, message, evidence)
        rank = (SEVERITY_RANK[finding.severity], test.size)
        key = (test.rule, test.dimension)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, finding)
    found += [finding for _, finding in best.values()]
    return [_adoption(finding, subject, snapshot) for finding in found]


def _levels(subject: Subject, dimension: str, whole: Moments, rulebook: Rulebook) -> list[Finding]:
    found: list[Finding] = []
    if whole.mean is None:
        return found
    n, mean, sd = side(whole)
    low = rulebook.low_score
    if low.enabled:
        severity = rules.low_score(whole.mean, amber_below=low.amber_below, red_below=low.red_below)
        if severity is not None:
            threshold = low.red_below if severity == "red" else low.amber_below
            figure = shown(whole.mean, threshold)
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
    if subject.scope == TEAM and spread.enabled and whole.sd is not None and sd is not None:
        severity = rules.polarised(whole.sd, amber_sd=spread.amber_sd, red_sd=spread.red_sd)
        if severity is not None:
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
