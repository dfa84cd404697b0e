"""Teams: neighbourhood and integrated teams at place."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

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
from app.models import Team
from app.schemas.common import Page
from app.schemas.structure import TeamCreate, TeamRead, TeamUpdate
from app.services import structure
from app.vocab import AuditAction, AuditTarget

router = APIRouter(prefix="/v1/teams", tags=["structure"], route_class=BodyRoute)

PlaceFilter = Annotated[
    str | None, Query(max_length=64, description="Only the teams of this place (by code).")
]


@router.get(
    "", response_model=Page[TeamRead], responses=problems(400, 401, 404), operation_id="listTeams"
)
def list_teams(
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    place: PlaceFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The system's teams, ordered by code."""
    structure.check_filters(session, caller.system_id, place=place)
    chunk = structure.list_teams(session, caller.system_id, place, cursor, limit)
    return page(request, chunk, structure.team_view(session, chunk.rows))


@router.post(
    "",
    response_model=TeamRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(400, 401, 403, 409, 413, 422),
    operation_id="createTeam",
)
def create_team(
    body: TeamCreate, caller: AdminDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> dict[str, Any]:
    """Create a team at a place, hosted by a partner organisation (both by code)."""
    audit.record(AuditAction.team_create, AuditTarget.team, body.code)
    fields = structure.team_fields(session, caller.system_id, body.model_dump())
    team = structure.create_coded(session, Team, caller.system_id, fields, now)
    return structure.team_view(session, [team])[0]


@router.get(
    "/{code}", response_model=TeamRead, responses=problems(401, 404), operation_id="getTeam"
)
def get_team(code: CodePath, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """One team."""
    team = structure.get_by_code(session, Team, caller.system_id, code)
    return structure.team_view(session, [team])[0]


@router.patch(
    "/{code}",
    response_model=TeamRead,
    responses=problems(400, 401, 403, 404, 413, 422),
    operation_id="updateTeam",
)
def update_team(
    code: CodePath,
    body: TeamUpdate,
    caller: AdminDep,
    session: SessionDep,
    now: NowDep,
    audit: AuditDep,
) -> dict[str, Any]:
    """Change a team; `null` clears `formed_on` or `headcount`. Its code never changes."""
    audit.record(AuditAction.team_update, AuditTarget.team, code, body)
    team = structure.get_by_code(session, Team, caller.system_id, code)
    fields = structure.team_fields(session, caller.system_id, body.model_dump(exclude_unset=True))
    structure.update_coded(session, team, fields, now)
    return structure.team_view(session, [team])[0]
