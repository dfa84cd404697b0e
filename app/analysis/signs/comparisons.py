"""The rules about one dimension of a team or place: levels and credible comparisons.

Every comparison made for a subject in a pulse joins one family; its p-values are
Holm-adjusted together (over at least ``Rulebook.min_comparisons``) before any fires.
"""

from __future__ import annotations

from app.analysis.cells import TEAM
from app.analysis.signs import gaps, rules, trends
from app.analysis.signs.findings import Cells, Comparison, Finding, Subject, label, p_words
from app.analysis.signs.rulebook import Rulebook
from app.analysis.snapshot import Snapshot
from app.analysis.stats import Moments, adjust
from app.vocab import DIMENSIONS

ADOPTION = "new_ways_of_working"
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
        evidence = {
            **test.evidence,
            "p": _sig(test.p),
            "p_adjusted": _sig(p_adjusted),
            "comparisons": family,
        }
        finding = Finding(
            test.rule, test.dimension, severity, test.message(p_words(p_adjusted)), evidence
        )
        rank = (SEVERITY_RANK[finding.severity], test.size)
        key = (test.rule, test.dimension)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, finding)
    found += [finding for _, finding in best.values()]
    return [_adoption(finding, subject, snapshot) for finding in found]


def _levels(subject: Subject, dimension: str, whole: Moments, rulebook: Rulebook) -> list[Finding]:
    found: list[Finding] = []
    mean, sd = whole.mean, whole.sd
    low = rulebook.low_score
    if low.enabled and mean is not None:
        severity = rules.low_score(mean, amber_below=low.amber_below, red_below=low.red_below)
        if severity is not None:
            threshold = low.red_below if severity == "red" else low.amber_below
            message = f"{label(dimension)} averaged {mean:.1f} (n={whole.n}), below {threshold:g}"
            evidence = {"n": whole.n, "mean": round(mean, 2), "threshold": threshold}
            finding = Finding("low_score", dimension, severity, message, evidence)
            found.append(finding)
    spread = rulebook.polarised
    if subject.scope == TEAM and spread.enabled and sd is not None:
        severity = rules.polarised(sd, amber_sd=spread.amber_sd, red_sd=spread.red_sd)
        if severity is not None:
            message = f"{label(dimension)} is polarised: standard deviation {sd:.2f} (n={whole.n})"
            evidence = {"n": whole.n, "sd": round(sd, 2), "threshold": spread.amber_sd}
            found.append(Finding("polarised", dimension, severity, message, evidence))
    return found


def _adoption(finding: Finding, subject: Subject, snapshot: Snapshot) -> Finding:
    """Within the adoption window, a new way of working is expected to score low at first."""
    if (
        subject.scope != TEAM
        or finding.dimension != ADOPTION
        or finding.rule not in {"low_score", "falling"}
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
