"""Reading kept results: the scores and warning signs of closed pulses, as the API shows them.

Each read first brings the pulse's kept results up to date (``results.publish.publish``,
which does nothing when they are current), then reads the kept rows (``score_cell``,
``warning_sign``).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import pulse_status
from app.models import Pulse, ScoreCell, System, Team, WarningSign
from app.services.aggregation import response_counts
from app.services.pagination import Slice, keyset_page
from app.services.results.publish import NUMBERS, closed_pulses, publish
from app.vocab import DIMENSIONS, PulseStatus

SHOWN = (*NUMBERS, "published_at", "revision_withheld")  # what a score read shows of a cell


def _cells(
    session: Session, pulse: Pulse, scope: str, place: str, team: str | None
) -> list[ScoreCell]:
    stmt = select(ScoreCell).where(
        ScoreCell.pulse_id == pulse.id,
        ScoreCell.scope == scope,
        ScoreCell.place == place,
        ScoreCell.team.is_(None) if team is None else ScoreCell.team == team,
        ScoreCell.withdrawn_at.is_(None),
    )
    return list(session.scalars(stmt))


def _dimensions(cells: list[ScoreCell]) -> list[dict[str, Any]]:
    out = []
    for dimension in DIMENSIONS:
        mine = [c for c in cells if c.dimension == dimension]
        whole = next((c for c in mine if c.segment_type is None), None)
        if whole is None:
            continue
        out.append(
            {
                "dimension": dimension,
                **{name: getattr(whole, name) for name in SHOWN},
                "breakdowns": [
                    {
                        "segment_type": c.segment_type,
                        "segment": c.segment,
                        **{name: getattr(c, name) for name in SHOWN},
                    }
                    for c in sorted(mine, key=lambda c: (c.segment_type or "", c.segment or ""))
                    if c.segment_type is not None
                ],
            }
        )
    return out


def scores(
    session: Session,
    system: System,
    pulses: list[Pulse],
    place: str,
    teams: list[Team],
    team: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The scores of a team (``team``) or place (all its ``teams``) in each of ``pulses``."""
    counts = response_counts(session, system.id, [p.id for p in pulses])
    codes = [t.code for t in teams]
    headcounts = [t.headcount for t in teams]
    headcount = None if not teams or None in headcounts else sum(h or 0 for h in headcounts)
    closed = closed_pulses(session, system.id, now)  # once, not once per pulse
    entries = []
    for pulse in pulses:
        status = pulse_status(pulse.opens_on, pulse.closes_on, pulse.closed_at, now)
        responses = sum(counts.get((pulse.id, code), 0) for code in codes)
        dimensions: list[dict[str, Any]] = []
        if status is PulseStatus.closed:
            publish(session, system, pulse, now, closed, wait=False)
            dimensions = _dimensions(
                _cells(session, pulse, "team" if team else "place", place, team)
            )
        entries.append(
            {
                "pulse": pulse.key,
                "status": status,
                "scope": "team" if team else "place",
                "place": place,
                "team": team,
                "participation": {
                    "responses": responses,
                    "headcount": headcount,
                    "response_rate": round(responses / headcount, 4) if headcount else None,
                },
                "dimensions": dimensions,
            }
        )
    return entries


@dataclass(frozen=True)
class FlagFilters:
    """Filters of GET /v1/warning-signs; None means any."""

    place: str | None = None
    team: str | None = None
    rule: str | None = None
    severity: str | None = None
    dimension: str | None = None
    scope: str | None = None


def list_flags(
    session: Session,
    system: System,
    pulse: Pulse,
    filters: FlagFilters,
    cursor: str | None,
    limit: int,
    now: datetime,
    closed: list[Pulse] | None = None,
) -> tuple[Slice[WarningSign], list[dict[str, Any]]]:
    """A page of the warning signs of a closed pulse, by id (``closed``: as for publish)."""
    publish(session, system, pulse, now, closed, wait=False)
    stmt = select(WarningSign).where(
        WarningSign.pulse_id == pulse.id, WarningSign.withdrawn_at.is_(None)
    )
    for name in ("place", "team", "rule", "severity", "dimension", "scope"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(WarningSign, name) == value)
    chunk = keyset_page(session, stmt, [WarningSign.id], cursor, limit)
    return chunk, [flag_view(flag, pulse.key) for flag in chunk.rows]


def flag_view(flag: WarningSign, pulse: str) -> dict[str, Any]:
    """A stored flag as the API shows it."""
    return {
        "id": flag.id,
        "rule": flag.rule,
        "severity": flag.severity,
        "scope": flag.scope,
        "pulse": pulse,
        "place": flag.place,
        "team": flag.team,
        "dimension": flag.dimension,
        "message": flag.message,
        "evidence": flag.evidence,
        "rules_version": flag.rules_version,
    }
