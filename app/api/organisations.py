"""Partner organisations: NHS trusts, councils, GP federations, the voluntary sector."""

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
from app.models import Organisation
from app.schemas.common import Page
from app.schemas.structure import OrganisationCreate, OrganisationRead, OrganisationUpdate
from app.services import structure
from app.vocab import AuditAction, AuditTarget

router = APIRouter(prefix="/v1/organisations", tags=["structure"], route_class=BodyRoute)


@router.get(
    "",
    response_model=Page[OrganisationRead],
    responses=problems(400, 401),
    operation_id="listOrganisations",
)
def list_organisations(
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The system's partner organisations, ordered by code."""
    chunk = structure.list_by_code(session, Organisation, caller.system_id, cursor, limit)
    return page(request, chunk, chunk.rows)


@router.post(
    "",
    response_model=OrganisationRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(400, 401, 403, 409, 413, 422),
    operation_id="createOrganisation",
)
def create_organisation(
    body: OrganisationCreate, caller: AdminDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> Organisation:
    """Create a partner organisation."""
    audit.record(AuditAction.organisation_create, AuditTarget.organisation, body.code)
    return structure.create_coded(session, Organisation, caller.system_id, body.model_dump(), now)


@router.get(
    "/{code}",
    response_model=OrganisationRead,
    responses=problems(401, 404),
    operation_id="getOrganisation",
)
def get_organisation(code: CodePath, caller: CallerDep, session: SessionDep) -> Organisation:
    """One partner organisation."""
    return structure.get_by_code(session, Organisation, caller.system_id, code)


@router.patch(
    "/{code}",
    response_model=OrganisationRead,
    responses=problems(400, 401, 403, 404, 413, 422),
    operation_id="updateOrganisation",
)
def update_organisation(
    code: CodePath,
    body: OrganisationUpdate,
    caller: AdminDep,
    session: SessionDep,
    now: NowDep,
    audit: AuditDep,
) -> Organisation:
    """Rename an organisation or change its kind; its code never changes."""
    audit.record(AuditAction.organisation_update, AuditTarget.organisation, code, body)
    organisation = structure.get_by_code(session, Organisation, caller.system_id, code)
    return structure.update_coded(session, organisation, body.model_dump(exclude_unset=True), now)
