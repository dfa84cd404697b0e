"""Warning signs for one pulse: a pure function of structure, responses and rulebook.

Rules read published aggregates only (``published`` decides by the rules of
``disclosure``, place by place, pulse by pulse and dimension by dimension), so every number
a flag cites is a published aggregate or a sum or difference of them, which the disclosure
audit keeps at 0 or at least k people.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from app.analysis.cells import PLACE, TEAM
from app.analysis.published import KeptCells, PlaceView, Published
from app.analysis.signs import rules
from app.analysis.signs.comparisons import Prepared, decide, prepare
from app.analysis.signs.findings import Finding, Subject
from app.analysis.signs.rulebook import RULES, Rulebook
from app.analysis.snapshot import Flag, Snapshot, Team, flag_id
from app.vocab import DIMENSIONS


@dataclass(frozen=True)
class TeamFacts:
    """What the rules read of a team in a pulse, whatever the thresholds."""

    team: Team
    prepared: Prepared
    responses: int
    reportable: bool  # its own aggregate published in this pulse (``spreading`` counts it)
    was_reportable: bool  # and in the pulse before (``gone_quiet``)


@dataclass(frozen=True)
class PlaceFacts:
    """What the rules read of a place and its teams in a pulse, whatever the thresholds."""

    place: str
    teams: tuple[TeamFacts, ...]
    prepared: Prepared


@dataclass(frozen=True)
class Assessment:
    """A pulse's published cells read into what every rulebook's rules need of them.

    Made once per state of a pulse's cells (``assessment``), graded by any rulebook with
    the same statistical settings (``grade``): a rule change or a preview reads no cell.
    """

    snapshot: Snapshot
    places: tuple[PlaceFacts, ...]

    @property
    def subjects(self) -> int:
        """How many teams and places it holds (what it costs to keep, roughly)."""
        return sum(1 + len(place.teams) for place in self.places)


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
    published = Published(snapshot) if kept is None else kept
    return grade(assessment(snapshot, rulebook, published), rulebook), published


def assessment(
    snapshot: Snapshot, rulebook: Rulebook, published: Published | KeptCells
) -> Assessment:
    """Every comparison the published cells allow, and the facts the other rules read.

    Of ``rulebook`` only the statistical settings are read (``comparisons.prepare``).
    """
    if snapshot.k < 1:
        raise ValueError("k must be at least 1")
    pulse = snapshot.pulse.key
    previous = snapshot.earlier[-1].key if snapshot.earlier else None
    by_place: dict[str, list[Team]] = defaultdict(list)  # grouped once, not once a place
    for team in snapshot.teams:
        by_place[team.place].append(team)
    places = []
    for place in sorted(by_place):
        cells = PlaceView(published, place)
        teams = sorted((t for t in by_place[place] if _exists(t, snapshot)), key=lambda t: t.code)
        facts = tuple(
            TeamFacts(
                team,
                prepare(cells, snapshot, Subject(TEAM, team.code, place, team.formed_on), rulebook),
                snapshot.responses.get((pulse, team.code), 0),
                cells.reportable(pulse, team.code),
                previous is not None and cells.reportable(previous, team.code),
            )
            for team in teams
        )
        whole = prepare(cells, snapshot, Subject(PLACE, place, place), rulebook)
        places.append(PlaceFacts(place, facts, whole))
    return Assessment(snapshot, tuple(places))


def grade(assessed: Assessment, rulebook: Rulebook) -> list[Flag]:
    """The warning signs a rulebook raises from an assessment, in a stable order."""
    snapshot = assessed.snapshot
    flags: list[Flag] = []
    for place in assessed.places:
        team_flags: list[Flag] = []
        for facts in place.teams:
            findings = decide(facts.prepared, snapshot, rulebook)
            findings += _participation(snapshot, facts, rulebook)
            team_flags += _flags(snapshot, facts.prepared.subject, findings)
        findings = decide(place.prepared, snapshot, rulebook)
        findings += _spreading(place, team_flags, rulebook)
        flags += team_flags + _flags(snapshot, place.prepared.subject, findings)
    order = {rule: i for i, rule in enumerate(RULES)}
    return sorted(
        flags,
        key=lambda f: (
            f.place,
            f.scope != TEAM,
            f.team or "",
            order[f.rule],
            -1 if f.dimension is None else DIMENSIONS.index(f.dimension),
        ),
    )


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


def _participation(snapshot: Snapshot, facts: TeamFacts, rulebook: Rulebook) -> list[Finding]:
    """The rules about who responded: low_participation, insufficient_responses, gone_quiet."""
    team, responses = facts.team, facts.responses
    found: list[Finding] = []
    previous = snapshot.earlier[-1].key if snapshot.earlier else None
    if rulebook.gone_quiet.enabled and previous is not None:
        severity = rules.gone_quiet(facts.was_reportable, responses)
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


def _spreading(place: PlaceFacts, team_flags: list[Flag], rulebook: Rulebook) -> list[Finding]:
    """The share of a place's reportable teams carrying an amber or red flag."""
    settings = rulebook.spreading
    if not settings.enabled:
        return []
    reportable = {facts.team.code for facts in place.teams if facts.reportable}
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
