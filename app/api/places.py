"""Places: localities within the system."""

from typing import Any

from fastapi import APIRouter, Request, status

from app.api.audit import AuditDep
from app.api.bodies import BodyRoute
from app.api.deps import (
    DEFAULT_LIMIT,
    AdminDep,
    CallerDep,
    CodePath,
    Cursor,
    Limit,
    NowDep,
    SessionDep,
    page,
    problems,
)
from app.models import Place
from app.schemas.common import Page
from app.schemas.structure import PlaceCreate, PlaceRead, PlaceUpdate
from app.services import structure
from app.vocab import AuditAction, AuditTarget

router = APIRouter(prefix="/v1/places", tags=["structure"], route_class=BodyRoute)


@router.get(
    "", response_model=Page[PlaceRead], responses=problems(400, 401), operation_id="listPlaces"
)
def list_places(
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The system's places, ordered by code."""
    chunk = structure.list_by_code(session, Place, caller.system_id, cursor, limit)
    return page(request, chunk, chunk.rows)


@router.post(
    "",
    response_model=PlaceRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(400, 401, 403, 409, 413, 422),
    operation_id="createPlace",
)
def create_place(
    body: PlaceCreate, caller: AdminDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> Place:
    """Create a place."""
    audit.record(AuditAction.place_create, AuditTarget.place, body.code)
    return structure.create_coded(session, Place, caller.system_id, body.model_dump(), now)


@router.get(
    "/{code}", response_model=PlaceRead, responses=problems(401, 404), operation_id="getPlace"
)
def get_place(code: CodePath, caller: CallerDep, session: SessionDep) -> Place:
    """One place."""
    return structure.get_by_code(session, Place, caller.system_id, code)


@router.patch(
    "/{code}",
    response_model=PlaceRead,
    responses=problems(400, 401, 403, 404, 413, 422),
    operation_id="updatePlace",
)
def update_place(
    code: CodePath,
    body: PlaceUpdate,
    caller: AdminDep,
    session: SessionDep,
    now: NowDep,
    audit: AuditDep,
) -> Place:
    """Rename a place; its code never changes."""
    audit.record(AuditAction.place_update, AuditTarget.place, code, body)
    place = structure.get_by_code(session, Place, caller.system_id, code)
    return structure.update_coded(session, place, body.model_dump(exclude_unset=True), now)
