"""Places, organisations, teams, pulses and the system itself."""

from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain import pulse_status
from app.errors import Conflict, NotFound, ValidationFailed, field_error, shown
from app.models import Organisation, Place, Pulse, System, Team
from app.schemas.common import RequestModel
from app.services.pagination import Slice, keyset_page
from app.services.results.revisions import closing, results_due
from app.vocab import PulseStatus

M = TypeVar("M", Place, Organisation, Team)


def _changes(update: RequestModel) -> dict[str, Any]:
    """The fields a PATCH body sets, explicit nulls included."""
    return {name: getattr(update, name) for name in update.model_fields_set}


def _flush_or_conflict(session: Session, what: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        # Two creates racing for the same code: the loser's flush hits the unique constraint.
        raise Conflict(f"{what} already exists.") from None


def update_system(session: Session, system: System, update: RequestModel, now: datetime) -> System:
    """Apply a PATCH to the system."""
    for name, value in _changes(update).items():
        setattr(system, name, value)
    system.updated_at = now
    session.flush()
    # A new k or adoption window applies to pulses published from now on: nothing kept is
    # recomputed (the ledger), so nothing is revised.
    session.refresh(system)
    return system


# -- places and organisations ---------------------------------------------------------------


def list_by_code(
    session: Session, model: type[M], system_id: int, cursor: str | None, limit: int
) -> Slice[M]:
    """A page of places, organisations or teams, ordered by code."""
    stmt = select(model).where(model.system_id == system_id)
    return keyset_page(session, stmt, [model.code], cursor, limit)


def get_by_code(session: Session, model: type[M], system_id: int, code: str) -> M:
    """The record with ``code`` in the system, or 404."""
    row = session.scalar(select(model).where(model.system_id == system_id, model.code == code))
    if row is None:
        raise NotFound(f"No {model.__tablename__} with code '{shown(code)}' in this system.")
    return row


def create_coded(
    session: Session, model: type[M], system_id: int, fields: dict[str, Any], now: datetime
) -> M:
    """A new place, organisation or team; 409 when the code is taken."""
    code = fields["code"]
    taken = session.scalar(select(model.id).where(model.system_id == system_id, model.code == code))
    if taken is not None:
        raise Conflict(f"A {model.__tablename__} with code '{code}' already exists.")
    row = model(system_id=system_id, created_at=now, updated_at=now, **fields)
    session.add(row)
    _flush_or_conflict(session, f"A {model.__tablename__} with code '{code}'")
    return row


def update_coded(session: Session, row: M, changes: dict[str, Any], now: datetime) -> M:
    """Apply changes to a place, organisation or team."""
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = now
    session.flush()
    # Structure applies to pulses published from now on: a closed pulse keeps the structure
    # it was published from (the ledger), so nothing is revised.
    return row


# -- teams ---------------------------------------------------------------------------------


def _resolve(
    session: Session, model: type[Place] | type[Organisation], system_id: int, code: str, field: str
) -> int:
    found = session.scalar(select(model.id).where(model.system_id == system_id, model.code == code))
    if found is None:
        raise ValidationFailed(
            f"The {field} '{code}' does not exist in this system.",
            errors=[field_error(f"/{field}", f"no {model.__tablename__} with code '{code}'")],
        )
    return found


def team_fields(session: Session, system_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Team columns from API fields: place and host organisation codes become ids."""
    fields = dict(changes)
    if "place" in fields:
        fields["place_id"] = _resolve(session, Place, system_id, fields.pop("place"), "place")
    if "host_organisation" in fields:
        fields["host_organisation_id"] = _resolve(
            session, Organisation, system_id, fields.pop("host_organisation"), "host_organisation"
        )
    return fields


def _codes(
    session: Session, model: type[Place] | type[Organisation], ids: set[int]
) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(model.id, model.code).where(model.id.in_(ids)))
    return {row_id: code for row_id, code in rows}


def team_view(session: Session, teams: list[Team]) -> list[dict[str, Any]]:
    """Teams as the API shows them, with place and host organisation by code."""
    places = _codes(session, Place, {t.place_id for t in teams})
    orgs = _codes(session, Organisation, {t.host_organisation_id for t in teams})
    return [
        {
            "code": t.code,
            "name": t.name,
            "place": places[t.place_id],
            "host_organisation": orgs[t.host_organisation_id],
            "formed_on": t.formed_on,
            "headcount": t.headcount,
            "created_at": t.created_at,
            "updated_at": t.updated_at,
        }
        for t in teams
    ]


def teams_of(session: Session, place_id: int) -> list[Team]:
    """The teams of a place."""
    return list(session.scalars(select(Team).where(Team.place_id == place_id).order_by(Team.code)))


def list_teams(
    session: Session, system_id: int, place: str | None, cursor: str | None, limit: int
) -> Slice[Team]:
    """A page of teams, optionally of one place, ordered by code."""
    stmt = select(Team).where(Team.system_id == system_id)
    if place is not None:
        stmt = stmt.join(Place, Place.id == Team.place_id).where(Place.code == place)
    return keyset_page(session, stmt, [Team.code], cursor, limit)


# -- pulses --------------------------------------------------------------------------------


def pulse_view(pulse: Pulse, now: datetime) -> dict[str, Any]:
    """A pulse as the API shows it, with its status as of ``now``."""
    return {
        "key": pulse.key,
        "title": pulse.title,
        "opens_on": pulse.opens_on,
        "closes_on": pulse.closes_on,
        "status": pulse_status(pulse.opens_on, pulse.closes_on, pulse.closed_at, now),
        "closed_at": pulse.closed_at,
        "created_at": pulse.created_at,
        "updated_at": pulse.updated_at,
    }


def list_pulses(
    session: Session,
    system_id: int,
    cursor: str | None,
    limit: int,
    key: str | None = None,
    started_by: datetime | None = None,
    newest_first: bool = False,
) -> Slice[Pulse]:
    """A page of pulses in the order they open (or the reverse): only ``key`` if given (else
    404), and only those open or closed by ``started_by`` if given."""
    if key is not None:
        check_filters(session, system_id, pulse=key)
    stmt = select(Pulse).where(Pulse.system_id == system_id)
    if key is not None:
        stmt = stmt.where(Pulse.key == key)
    if started_by is not None:
        stmt = stmt.where(Pulse.opens_on <= started_by.date())
    return keyset_page(
        session,
        stmt,
        [Pulse.opens_on, Pulse.key],
        cursor,
        limit,
        parse=[date.fromisoformat, None],
        descending=newest_first,
    )


def get_pulse(session: Session, system_id: int, key: str) -> Pulse:
    """The pulse with ``key`` in the system, or 404."""
    pulse = session.scalar(select(Pulse).where(Pulse.system_id == system_id, Pulse.key == key))
    if pulse is None:
        raise NotFound(f"No pulse with key '{shown(key)}' in this system.")
    return pulse


def create_pulse(session: Session, system_id: int, fields: dict[str, Any], now: datetime) -> Pulse:
    """A new pulse; 409 when the key is taken."""
    key = fields["key"]
    if session.scalar(select(Pulse.id).where(Pulse.system_id == system_id, Pulse.key == key)):
        raise Conflict(f"A pulse with key '{key}' already exists.")
    pulse = Pulse(system_id=system_id, created_at=now, updated_at=now, **fields)
    session.add(pulse)
    _flush_or_conflict(session, f"A pulse with key '{key}'")
    # No revision: a closed pulse's results depend on the closed pulses before it, which
    # its kept key names, not on pulses still to come.
    return pulse


def update_pulse(session: Session, pulse: Pulse, changes: dict[str, Any], now: datetime) -> Pulse:
    """Apply changes to a pulse; a closed pulse keeps its dates, so it never reopens."""
    if "opens_on" in changes or "closes_on" in changes:
        # New dates may close it at once: as for a close, after any response being stored.
        closing(session, pulse.id)
        session.refresh(pulse)
    opens_on = changes.get("opens_on", pulse.opens_on)
    closes_on = changes.get("closes_on", pulse.closes_on)
    if closes_on < opens_on:
        raise ValidationFailed(
            "closes_on must not be before opens_on.",
            errors=[field_error("/closes_on", "must not be before opens_on")],
        )
    dates_change = opens_on != pulse.opens_on or closes_on != pulse.closes_on
    status = pulse_status(pulse.opens_on, pulse.closes_on, pulse.closed_at, now)
    if dates_change and status is PulseStatus.closed:
        raise Conflict(f"Pulse '{pulse.key}' is closed; its dates can no longer change.")
    for name, value in changes.items():
        setattr(pulse, name, value)
    pulse.updated_at = now
    session.flush()
    # No revision: only a pulse that is not closed may change its dates, and no closed
    # pulse's results depend on it until it closes; if the new dates close it, its own
    # results are due.
    if (
        dates_change
        and pulse_status(opens_on, closes_on, pulse.closed_at, now) is PulseStatus.closed
    ):
        results_due(session, at_once=True)
    return pulse


def close_pulse(session: Session, pulse: Pulse, now: datetime) -> Pulse:
    """Close a pulse now; closing a closed pulse changes nothing."""
    closing(session, pulse.id)  # after any response being stored into it
    session.refresh(pulse)
    if pulse_status(pulse.opens_on, pulse.closes_on, pulse.closed_at, now) is PulseStatus.closed:
        return pulse
    pulse.closed_at = now
    pulse.updated_at = now
    session.flush()
    # The earlier pulses' results do not change, so no revision; but the new one's are due,
    # and a close comes alone: the publisher need not wait for more.
    results_due(session, at_once=True)
    return pulse


LATEST = "latest"  # `pulse=latest` in reads: the latest closed pulse


def check_filters(
    session: Session,
    system_id: int,
    *,
    place: str | None = None,
    team: str | None = None,
    pulse: str | None = None,
) -> None:
    """404 naming the query parameter whose code names nothing in the system.

    A filter that matches no record would otherwise answer an empty list, which reads
    as "nothing there" when the code is simply wrong.
    """
    lookups: list[tuple[str, str | None, Any, Any]] = [
        ("place", place, Place.id, Place.code),
        ("team", team, Team.id, Team.code),
        ("pulse", pulse, Pulse.id, Pulse.key),
    ]
    for name, code, id_column, code_column in lookups:
        if code is None:
            continue
        found = session.scalar(
            select(id_column).where(id_column.class_.system_id == system_id, code_column == code)
        )
        if found is None:
            raise NotFound(
                f"No {name} '{shown(code)}' in this system.",
                errors=[{"parameter": name, "detail": f"no {name} with this code"}],
            )
