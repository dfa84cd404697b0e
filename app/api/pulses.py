"""Pulses: survey rounds."""

from typing import Any

from fastapi import APIRouter, Request, status

from app.api.audit import AuditDep
from app.api.bodies import BodyRoute
from app.api.deps import (
    DEFAULT_LIMIT,
    AdminDep,
    CallerDep,
    Cursor,
    KeyPath,
    Limit,
    NowDep,
    SessionDep,
    page,
    problems,
)
from app.schemas.common import Page
from app.schemas.structure import PulseCreate, PulseRead, PulseUpdate
from app.services import structure
from app.vocab import AuditAction, AuditTarget

router = APIRouter(prefix="/v1/pulses", tags=["structure"], route_class=BodyRoute)


@router.get(
    "", response_model=Page[PulseRead], responses=problems(400, 401), operation_id="listPulses"
)
def list_pulses(
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    now: NowDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The system's pulses, in the order they open."""
    chunk = structure.list_pulses(session, caller.system_id, cursor, limit)
    return page(request, chunk, [structure.pulse_view(p, now) for p in chunk.rows])


@router.post(
    "",
    response_model=PulseRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(400, 401, 403, 409, 413, 422),
    operation_id="createPulse",
)
def create_pulse(
    body: PulseCreate, caller: AdminDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> dict[str, Any]:
    """Schedule a pulse; its status follows from its dates."""
    audit.record(AuditAction.pulse_create, AuditTarget.pulse, body.key)
    pulse = structure.create_pulse(session, caller.system_id, body.model_dump(), now)
    return structure.pulse_view(pulse, now)


@router.get(
    "/{key}", response_model=PulseRead, responses=problems(401, 404), operation_id="getPulse"
)
def get_pulse(key: KeyPath, caller: CallerDep, session: SessionDep, now: NowDep) -> dict[str, Any]:
    """One pulse."""
    return structure.pulse_view(structure.get_pulse(session, caller.system_id, key), now)


@router.patch(
    "/{key}",
    response_model=PulseRead,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
    operation_id="updatePulse",
)
def update_pulse(
    key: KeyPath,
    body: PulseUpdate,
    caller: AdminDep,
    session: SessionDep,
    now: NowDep,
    audit: AuditDep,
) -> dict[str, Any]:
    """Change a pulse's title or dates; a closed pulse keeps its dates (409)."""
    audit.record(AuditAction.pulse_update, AuditTarget.pulse, key, body)
    pulse = structure.get_pulse(session, caller.system_id, key)
    structure.update_pulse(session, pulse, body.model_dump(exclude_unset=True), now)
    return structure.pulse_view(pulse, now)


@router.post(
    "/{key}/close",
    response_model=PulseRead,
    responses=problems(401, 403, 404),
    operation_id="closePulse",
)
def close_pulse(
    key: KeyPath, caller: AdminDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> dict[str, Any]:
    """Close a pulse now, for good; closing a closed pulse changes nothing."""
    audit.record(AuditAction.pulse_close, AuditTarget.pulse, key)
    pulse = structure.get_pulse(session, caller.system_id, key)
    structure.close_pulse(session, pulse, now)
    return structure.pulse_view(pulse, now)
