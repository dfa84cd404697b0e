"""Participation of a closed pulse, kept for the feed: responses, headcount, response rate.

Counts only: they are published while a pulse is open too (DESIGN 3.5), and are the
figures the scores endpoints show. Each team is counted at its place, with its headcount,
in the structure the pulse was published from (a team created after the close, holding
late responses, as it stands now). A place's headcount is known when every team's is.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analysis.cells import PLACE, TEAM, participation_id
from app.models import Participation, Pulse, System
from app.services.aggregation import response_counts
from app.services.bulk import insert_rows
from app.services.results.ledger import Structure, current_structure

Identity = tuple[str, str, str | None]  # scope, place, team
FIGURES = ("responses", "headcount", "response_rate")


def figures(
    structure: Structure, now: Structure, counts: dict[str, int]
) -> dict[Identity, dict[str, Any]]:
    """The participation rows of a pulse from its structure and responses per team."""
    teams = dict(structure.teams)
    for code in counts:
        if code not in teams and code in now.teams:
            teams[code] = now.teams[code]
    rows: dict[Identity, dict[str, Any]] = {}
    places: dict[str, list[tuple[int, int | None]]] = {}
    for code, (place, headcount, _) in sorted(teams.items()):
        responses = counts.get(code, 0)
        rows[(TEAM, place, code)] = _row(responses, headcount)
        places.setdefault(place, []).append((responses, headcount))
    for place, members in sorted(places.items()):
        heads = [h for _, h in members]
        headcount = None if None in heads else sum(h or 0 for h in heads)
        rows[(PLACE, place, None)] = _row(sum(r for r, _ in members), headcount)
    return rows


def _row(responses: int, headcount: int | None) -> dict[str, Any]:
    rate = round(responses / headcount, 4) if headcount else None
    return {"responses": responses, "headcount": headcount, "response_rate": rate}


def sync(
    session: Session, system: System, pulse: Pulse, structure: dict[str, Any], now: datetime
) -> None:
    """Make the kept participation of a pulse current; rows left as they were keep their stamp."""
    counts = {team: n for (_, team), n in response_counts(session, system.id, [pulse.id]).items()}
    wanted = figures(Structure.from_json(structure), current_structure(session, system.id), counts)
    stored = {
        (row.scope, row.place, row.team): row
        for row in session.scalars(select(Participation).where(Participation.pulse_id == pulse.id))
    }
    for identity, kept in stored.items():
        if identity not in wanted and kept.withdrawn_at is None:
            kept.withdrawn_at = kept.updated_at = now
    new: list[dict[str, Any]] = []
    for identity, values in wanted.items():
        row = stored.get(identity)
        if row is None:
            scope, place, team = identity
            subject = team if team is not None else place
            new.append(
                {
                    "public_id": participation_id(system.slug, pulse.key, scope, subject),
                    "system_id": system.id,
                    "pulse_id": pulse.id,
                    "scope": scope,
                    "place": place,
                    "team": team,
                    **values,
                    "updated_at": now,
                    "withdrawn_at": None,
                }
            )
        elif row.withdrawn_at is not None or any(getattr(row, k) != values[k] for k in FIGURES):
            for name, value in values.items():
                setattr(row, name, value)
            row.withdrawn_at = None
            row.updated_at = now
    insert_rows(session, Participation, new)
    session.flush()
