"""The structure as flat rows for BI lookup tables: places, organisations, teams, pulses."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.domain import pulse_status
from app.models import Organisation, Place, Pulse, Team

Rows = list[dict[str, Any]]


def places(session: Session, system_id: int, now: datetime) -> Rows:
    """Every place, by code."""
    stmt = select(Place).where(Place.system_id == system_id).order_by(Place.code)
    return [
        {"code": p.code, "name": p.name, "updated_at": p.updated_at} for p in session.scalars(stmt)
    ]


def organisations(session: Session, system_id: int, now: datetime) -> Rows:
    """Every partner organisation, by code."""
    stmt = select(Organisation).where(Organisation.system_id == system_id)
    return [
        {"code": o.code, "name": o.name, "kind": o.kind, "updated_at": o.updated_at}
        for o in session.scalars(stmt.order_by(Organisation.code))
    ]


def teams(session: Session, system_id: int, now: datetime) -> Rows:
    """Every team with its place and host organisation, by code."""
    host = aliased(Organisation)
    stmt = (
        select(Team, Place.code, Place.name, host.code, host.name, host.kind)
        .join(Place, Place.id == Team.place_id)
        .join(host, host.id == Team.host_organisation_id)
        .where(Team.system_id == system_id)
        .order_by(Team.code)
    )
    return [
        {
            "code": team.code,
            "name": team.name,
            "place": place,
            "place_name": place_name,
            "host_organisation": org,
            "host_organisation_name": org_name,
            "host_organisation_kind": kind,
            "formed_on": team.formed_on,
            "headcount": team.headcount,
            "updated_at": team.updated_at,
        }
        for team, place, place_name, org, org_name, kind in session.execute(stmt)
    ]


def pulses(session: Session, system_id: int, now: datetime) -> Rows:
    """Every pulse with its dates and status, in the order they open."""
    stmt = select(Pulse).where(Pulse.system_id == system_id).order_by(Pulse.opens_on, Pulse.key)
    return [
        {
            "key": p.key,
            "title": p.title,
            "opens_on": p.opens_on,
            "closes_on": p.closes_on,
            "status": pulse_status(p.opens_on, p.closes_on, p.closed_at, now).value,
            "closed_at": p.closed_at,
            "updated_at": p.updated_at,
        }
        for p in session.scalars(stmt)
    ]


LOOKUPS: dict[str, Callable[[Session, int, datetime], Rows]] = {
    "places": places,
    "organisations": organisations,
    "teams": teams,
    "pulses": pulses,
}
COLUMNS = {
    "places": ("code", "name", "updated_at"),
    "organisations": ("code", "name", "kind", "updated_at"),
    "teams": (
        "code",
        "name",
        "place",
        "place_name",
        "host_organisation",
        "host_organisation_name",
        "host_organisation_kind",
        "formed_on",
        "headcount",
        "updated_at",
    ),
    "pulses": ("key", "title", "opens_on", "closes_on", "status", "closed_at", "updated_at"),
}
