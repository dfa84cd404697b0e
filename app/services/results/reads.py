"""Reading kept results: the scores and warning signs of closed pulses, as the API shows them.

Each read first brings the pulse's kept results up to date (``results.publish.publish``,
which does nothing when they are current), then reads the kept rows (``score_cell``,
``warning_sign``).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.domain import pulse_status
from app.models import Pulse, ScoreCell, System, Team, WarningSign
from app.services.aggregation import response_counts
from app.services.pagination import Slice, keyset_page
from app.services.results.publish import NUMBERS, publish, publish_all
from app.vocab import DIMENSIONS, SEVERITY_RANK, PulseStatus, Severity

SHOWN = (*NUMBERS, "published_at", "revision_withheld")  # what a score read shows of a cell


def _cells(
    session: Session, pulses: list[Pulse], scope: str, place: str, team: str | None
) -> dict[int, dict[str, list[Row[Any]]]]:
    """The kept cells of a place or team in each of ``pulses``: by pulse id, then dimension.

    Read as rows of the columns shown, in one statement for every pulse: a read shows
    hundreds of cells, and loading each as an ORM object cost more than the rest of it.
    """
    stmt = select(
        ScoreCell.pulse_id,
        ScoreCell.dimension,
        ScoreCell.segment_type,
        ScoreCell.segment,
        *(getattr(ScoreCell, name) for name in SHOWN),
    ).where(
        ScoreCell.pulse_id.in_([p.id for p in pulses]),
        ScoreCell.scope == scope,
        ScoreCell.place == place,
        ScoreCell.team.is_(None) if team is None else ScoreCell.team == team,
        ScoreCell.withdrawn_at.is_(None),
    )
    cells: dict[int, dict[str, list[Row[Any]]]] = {}
    for row in session.execute(stmt):
        cells.setdefault(row.pulse_id, {}).setdefault(row.dimension, []).append(row)
    return cells


def _shown(cell: Row[Any]) -> dict[str, Any]:
    return dict(zip(SHOWN, cell[4:], strict=True))  # the columns after the four of identity


def _dimensions(cells: dict[str, list[Row[Any]]]) -> list[dict[str, Any]]:
    out = []
    for dimension in DIMENSIONS:
        mine = cells.get(dimension, [])
        whole = next((c for c in mine if c.segment_type is None), None)
        if whole is None:
            continue
        parts = sorted(
            (c for c in mine if c.segment_type is not None),
            key=lambda c: (c.segment_type, c.segment or ""),
        )
        out.append(
            {
                "dimension": dimension,
                **_shown(whole),
                "breakdowns": [
                    {"segment_type": c.segment_type, "segment": c.segment, **_shown(c)}
                    for c in parts
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
    status = {p.id: pulse_status(p.opens_on, p.closes_on, p.closed_at, now) for p in pulses}
    shut = [p for p in pulses if status[p.id] is PulseStatus.closed]
    publish_all(session, system, shut, now, wait=False)
    scope = "team" if team else "place"
    cells = _cells(session, shut, scope, place, team) if shut else {}
    entries = []
    for pulse in pulses:
        responses = sum(counts.get((pulse.id, code), 0) for code in codes)
        entries.append(
            {
                "pulse": pulse.key,
                "status": status[pulse.id],
                "scope": scope,
                "place": place,
                "team": team,
                "participation": {
                    "responses": responses,
                    "headcount": headcount,
                    "response_rate": round(responses / headcount, 4) if headcount else None,
                },
                "dimensions": _dimensions(cells.get(pulse.id, {})),
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
    """A page of the warning signs of a closed pulse, most serious first (``FLAG_ORDER``;
    ``closed``: as for publish)."""
    publish(session, system, pulse, now, closed, wait=False)
    stmt = select(WarningSign).where(
        WarningSign.pulse_id == pulse.id, WarningSign.withdrawn_at.is_(None)
    )
    for name in ("place", "team", "rule", "severity", "dimension", "scope"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(WarningSign, name) == value)
    chunk = keyset_page(session, stmt, FLAG_ORDER, cursor, limit, key=_flag_key)
    return chunk, [flag_view(flag, pulse.key) for flag in chunk.rows]


# Most serious first, then by where and what; a place's own flags (no team) before its
# teams', a rule's flag about no one dimension before those about one. The id breaks ties.
FLAG_ORDER: list[InstrumentedAttribute[Any] | ColumnElement[Any]] = [
    case(SEVERITY_RANK, value=WarningSign.severity, else_=len(SEVERITY_RANK)),
    WarningSign.place,
    func.coalesce(WarningSign.team, ""),
    WarningSign.rule,
    func.coalesce(WarningSign.dimension, ""),
    WarningSign.id,
]


def _flag_key(flag: WarningSign) -> list[Any]:
    """A flag's values of ``FLAG_ORDER``, for its page's cursor."""
    rank = SEVERITY_RANK.get(Severity(flag.severity), len(SEVERITY_RANK))
    return [rank, flag.place, flag.team or "", flag.rule, flag.dimension or "", flag.id]


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
