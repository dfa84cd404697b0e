"""Warning signs for one pulse: a pure function of structure, responses and rulebook.

Rules read published aggregates only (``published`` decides by the rules of
``disclosure``, place by place, pulse by pulse and dimension by dimension), so every number
a flag cites is a published aggregate or a sum or difference of them, which the disclosure
audit keeps at 0 or at least k people.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from app.analysis.cells import PLACE, TEAM
from app.analysis.published import KeptCells, PlaceView, Published
from app.analysis.signs import rules
from app.analysis.signs.comparisons import decide
from app.analysis.signs.findings import Finding, Subject
from app.analysis.signs.rulebook import RULES, Rulebook
from app.analysis.snapshot import Flag, Snapshot, Team, flag_id
from app.vocab import DIMENSIONS


def warning_signs(snapshot: Snapshot, rulebook: Rulebook) -> list[Flag]:
    """Every warning sign of the snapshot's pulse, in a stable order."""
    return assess(snapshot, rulebook)[0]


def assess(
    snapshot: Snapshot, rulebook: Rulebook, kept: KeptCells | None = None
) -> tuple[list[Flag], Published | KeptCells]:
    """The warning signs, and the published cells they were read from.

    With ``kept``, the rules read those cells (a closed pulse's ledger) and no disclosure
    decision is made; else the cells are decided from the snapshot's scores.
    """
    if snapshot.k < 1:
        raise ValueError("k must be at least 1")
    published = Published(snapshot) if kept is None else kept
    flags: list[Flag] = []
    by_place: dict[str, list[Team]] = defaultdict(list)  # grouped once, not once a place
    for team in snapshot.teams:
        by_place[team.place].append(team)
    for place in sorted(by_place):
        cells = PlaceView(published, place)
        teams = sorted((t for t in by_place[place] if _exists(t, snapshot)), key=lambda t: t.code)
        team_flags: list[Flag] = []
        for team in teams:
            subject = Subject(TEAM, team.code, place, team.formed_on)
            findings = decide(cells, snapshot, subject, rulebook)
            findings += _participation(snapshot, cells, team, rulebook)
            team_flags += _flags(snapshot, subject, findings)
        subject = Subject(PLACE, place, place)
        findings = decide(cells, snapshot, subject, rulebook)
        findings += _spreading(snapshot, cells, teams, team_flags, rulebook)
        flags += team_flags + _flags(snapshot, subject, findings)
    order = {rule: i for i, rule in enumerate(RULES)}
    ordered = sorted(
        flags,
        key=lambda f: (
            f.place,
            f.scope != TEAM,
            f.team or "",
            order[f.rule],
            -1 if f.dimension is None else DIMENSIONS.index(f.dimension),
        ),
    )
    return ordered, published


def _exists(team: Team, snapshot: Snapshot) -> bool:
    return team.formed_on is None or team.formed_on <= snapshot.pulse.closes_on


def _flags(snapshot: Snapshot, subject: Subject, findings: list[Finding]) -> list[Flag]:
    """The subject's flags; those about one dimension (or about none) name each other."""
    pulse = snapshot.pulse.key
    ids = [
        flag_id(snapshot.system, pulse, subject.scope, subject.code, f.rule, f.dimension)
        for f in findings
    ]
    together: dict[str | None, list[str]] = defaultdict(list)
    for finding, flag in zip(findings, ids, strict=True):
        together[finding.dimension].append(flag)
    return [
        Flag(
            id=flag,
            rule=f.rule,
            severity=f.severity,
            scope=subject.scope,
            pulse=pulse,
            place=subject.place,
            team=subject.code if subject.scope == TEAM else None,
            dimension=f.dimension,
            message=f.message,
            evidence={
                **f.evidence,
                "related": sorted(other for other in together[f.dimension] if other != flag),
            },
        )
        for f, flag in zip(findings, ids, strict=True)
    ]


def _participation(
    snapshot: Snapshot, cells: PlaceView, team: Team, rulebook: Rulebook
) -> list[Finding]:
    """The rules about who responded: low_participation, insufficient_responses, gone_quiet."""
    responses = snapshot.responses.get((snapshot.pulse.key, team.code), 0)
    found: list[Finding] = []
    previous = snapshot.earlier[-1].key if snapshot.earlier else None
    if rulebook.gone_quiet.enabled and previous is not None:
        severity = rules.gone_quiet(cells.reportable(previous, team.code), responses)
        if severity is not None:
            message = f"No responses in {snapshot.pulse.key}, after a reportable {previous}"
            evidence: dict[str, Any] = {"responses": responses, "previous_pulse": previous}
            found.append(Finding("gone_quiet", None, severity, message, evidence))
    low = rulebook.low_participation
    severity = rules.low_participation(
        responses, team.headcount, amber_ratio=low.amber_ratio, red_ratio=low.red_ratio
    )
    # A team gone quiet is told once: gone_quiet says more than a response rate of 0.
    if low.enabled and severity is not None and not found:
        assert team.headcount is not None  # low_participation fires only when it is known
        ratio = responses / team.headcount
        message = (
            f"{responses} responses from a headcount of {team.headcount} "
            f"({ratio:.0%}, below {low.red_ratio if severity == 'red' else low.amber_ratio:.0%})"
        )
        evidence = {
            "responses": responses,
            "headcount": team.headcount,
            "ratio": round(ratio, 4),
            "amber_ratio": low.amber_ratio,
            "red_ratio": low.red_ratio,
        }
        found.append(Finding("low_participation", None, severity, message, evidence))
    severity = rules.insufficient_responses(responses, snapshot.k)
    if rulebook.insufficient_responses.enabled and severity is not None:
        message = f"{responses} responses, fewer than {snapshot.k}: nothing can be reported"
        evidence = {"responses": responses, "min_group_size": snapshot.k}
        found.append(Finding("insufficient_responses", None, severity, message, evidence))
    return found


def _spreading(
    snapshot: Snapshot,
    cells: PlaceView,
    teams: list[Team],
    team_flags: list[Flag],
    rulebook: Rulebook,
) -> list[Finding]:
    """The share of a place's reportable teams carrying an amber or red flag."""
    settings = rulebook.spreading
    if not settings.enabled:
        return []
    reportable = {t.code for t in teams if cells.reportable(snapshot.pulse.key, t.code)}
    flagged = {f.team for f in team_flags if f.severity != "info" and f.team in reportable}
    severity = rules.spreading(
        len(flagged),
        len(reportable),
        amber_share=settings.amber_share,
        red_share=settings.red_share,
    )
    if severity is None:
        return []
    share = len(flagged) / len(reportable)
    counted = sorted(flagged)
    message = (
        f"{len(flagged)} of {len(reportable)} reportable teams ({share:.0%}) "
        "carry an amber or red warning sign (the evidence lists them)"
    )
    evidence = {
        "flagged_teams": len(flagged),
        "reportable_teams": len(reportable),
        "share": round(share, 4),
        "teams": counted,
        "amber_share": settings.amber_share,
        "red_share": settings.red_share,
    }
    return [Finding("spreading", None, severity, message, evidence)]
