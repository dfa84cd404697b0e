"""Insights: scores and warning signs of closed pulses, and the rulebook."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from app.analysis.signs import Rulebook, RulebookError
from app.api.audit import AuditDep
from app.api.bodies import BodyRoute
from app.api.deps import (
    DEFAULT_LIMIT,
    AdminDep,
    CodePath,
    Cursor,
    Limit,
    NowDep,
    SessionDep,
    page,
    problems,
    scoped,
    writes_on_read,
)
from app.auth import Caller
from app.errors import Conflict, ValidationFailed, field_error
from app.models import Place, Pulse, Team
from app.schemas.common import Page
from app.schemas.insights import RulesRead, RulesUpdate, ScoresRead
from app.schemas.signs import RulesPreviewRead, WarningSignPage
from app.services import structure
from app.services.results import preview, publish, reads
from app.vocab import (
    CODE_PATTERN,
    AuditAction,
    AuditTarget,
    Dimension,
    ResultScope,
    Rule,
    Scope,
    Severity,
)

router = APIRouter(tags=["insights"], route_class=BodyRoute)
computed = APIRouter(tags=["insights"], dependencies=[Depends(writes_on_read)])

ReaderDep = Annotated[Caller, Depends(scoped(Scope.insights_read))]
PulseFilter = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=CODE_PATTERN,
        description="Only this pulse (by key); `latest`: the latest closed pulse.",
    ),
]
Suppressed = Annotated[
    Literal["include", "exclude"],
    Query(
        description="`exclude` leaves out the breakdowns whose numbers are suppressed "
        "(the dimension's own entry stays, suppressed or not)."
    ),
]


@computed.get(
    "/v1/teams/{code}/scores",
    response_model=Page[ScoresRead],
    responses=problems(400, 401, 403, 404),
    operation_id="getTeamScores",
)
def team_scores(
    code: CodePath,
    request: Request,
    caller: ReaderDep,
    session: SessionDep,
    now: NowDep,
    pulse: PulseFilter = None,
    suppressed: Suppressed = "include",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """A team's participation and scores per pulse, newest first; scores once it is closed."""
    team = structure.get_by_code(session, Team, caller.system_id, code)
    place = session.get_one(Place, team.place_id)
    chosen = ScoresQuery(pulse, suppressed == "include", limit, cursor)
    return _scores_page(request, caller, session, now, place, [team], team, chosen)


@computed.get(
    "/v1/places/{code}/scores",
    response_model=Page[ScoresRead],
    responses=problems(400, 401, 403, 404),
    operation_id="getPlaceScores",
)
def place_scores(
    code: CodePath,
    request: Request,
    caller: ReaderDep,
    session: SessionDep,
    now: NowDep,
    pulse: PulseFilter = None,
    suppressed: Suppressed = "include",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """A place's participation and scores per pulse, newest first; scores once it is closed."""
    place = structure.get_by_code(session, Place, caller.system_id, code)
    teams = structure.teams_of(session, place.id)
    chosen = ScoresQuery(pulse, suppressed == "include", limit, cursor)
    return _scores_page(request, caller, session, now, place, teams, None, chosen)


@dataclass(frozen=True)
class ScoresQuery:
    """What a scores request asks for."""

    pulse: str | None
    with_suppressed: bool
    limit: int
    cursor: str | None


def _scores_page(
    request: Request,
    caller: Caller,
    session: Session,
    now: datetime,
    place: Place,
    teams: list[Team],
    team: Team | None,
    query: ScoresQuery,
) -> dict[str, Any]:
    """A page of pulses, newest first, with the scores of a team or a place (``team`` None)."""
    key = query.pulse
    if key == structure.LATEST:
        closed = publish.closed_pulses(session, caller.system_id, now)
        if not closed:
            return {"data": [], "next": None, "next_cursor": None}
        key = closed[-1].key
    chunk = structure.list_pulses(
        session,
        caller.system_id,
        query.cursor,
        query.limit,
        key=key,
        started_by=now,
        newest_first=True,
    )
    code = None if team is None else team.code
    entries = reads.scores(session, caller.system, chunk.rows, place.code, teams, code, now)
    if not query.with_suppressed:
        entries = [_without_suppressed(entry) for entry in entries]
    return page(request, chunk, entries)


def _without_suppressed(entry: dict[str, Any]) -> dict[str, Any]:
    """A scores entry whose breakdowns are only those published."""
    dimensions = [
        {**d, "breakdowns": [b for b in d["breakdowns"] if not b["suppressed"]]}
        for d in entry["dimensions"]
    ]
    return {**entry, "dimensions": dimensions}


ClosedPulse = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=CODE_PATTERN,
        description="Key of a closed pulse; the latest closed (`latest`) by default.",
    ),
]


def _chosen_pulse(
    session: Session, system_id: int, pulse: str | None, closed: list[Pulse]
) -> Pulse | None:
    """The pulse ``pulse`` names (404 if none), or the latest closed for None or `latest`."""
    if pulse is not None and pulse != structure.LATEST:
        return structure.get_pulse(session, system_id, pulse)
    return closed[-1] if closed else None


@computed.get(
    "/v1/warning-signs",
    response_model=WarningSignPage,
    responses=problems(400, 401, 403, 404),
    operation_id="listWarningSigns",
)
def warning_signs(
    request: Request,
    caller: ReaderDep,
    session: SessionDep,
    now: NowDep,
    pulse: ClosedPulse = None,
    place: Annotated[str | None, Query(max_length=64, description="Only this place.")] = None,
    team: Annotated[str | None, Query(max_length=64, description="Only this team.")] = None,
    rule: Annotated[Rule | None, Query(description="Only this rule.")] = None,
    severity: Annotated[Severity | None, Query(description="Only this severity.")] = None,
    dimension: Annotated[Dimension | None, Query(description="Only this dimension.")] = None,
    scope: Annotated[ResultScope | None, Query(description="Only this scope.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Warning signs of a closed pulse (an open pulse has none yet), most serious first."""
    structure.check_filters(session, caller.system_id, place=place, team=team)
    closed = publish.closed_pulses(session, caller.system_id, now)
    chosen = _chosen_pulse(session, caller.system_id, pulse, closed)
    if chosen is None or not publish.is_closed(chosen, now):
        return {"data": [], "next": None, "next_cursor": None}
    filters = reads.FlagFilters(place, team, rule, severity, dimension, scope)
    chunk, items = reads.list_flags(
        session, caller.system, chosen, filters, cursor, limit, now, closed
    )
    return page(request, chunk, items)


@router.get(
    "/v1/rules", response_model=RulesRead, responses=problems(401, 403), operation_id="getRules"
)
def get_rules(caller: ReaderDep, session: SessionDep) -> dict[str, Any]:
    """The rulebook in force: every rule, enabled or not, with its thresholds."""
    book, version = publish.rulebook(session, caller.system_id)
    return {"version": version, **book.to_dict()}


@router.post(
    "/v1/rules/preview",
    response_model=RulesPreviewRead,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
    operation_id="previewRules",
)
def preview_rules(
    body: RulesUpdate,
    caller: ReaderDep,
    session: SessionDep,
    now: NowDep,
    pulse: ClosedPulse = None,
) -> dict[str, Any]:
    """The flags these rules would raise for a closed pulse, from its kept cells; saves nothing."""
    _book, current = publish.rulebook(session, caller.system_id)
    if body.version is not None and body.version != current:
        raise Conflict(f"The rulebook is at version {current}, not {body.version}; reload it.")
    try:
        book = Rulebook.from_dict(body.model_dump(exclude_unset=True, exclude={"version"}))
    except RulebookError as exc:
        raise ValidationFailed(
            "The rulebook is invalid.",
            errors=[field_error(f"/{p.path}", p.detail) for p in exc.problems],
        ) from None
    closed = publish.closed_pulses(session, caller.system_id, now)
    chosen = _chosen_pulse(session, caller.system_id, pulse, closed)
    if chosen is None or not publish.is_closed(chosen, now):
        key = None if chosen is None else chosen.key
        return {"pulse": key, "based_on_version": current, "data": []}
    flags = preview.preview(session, caller.system, chosen, book, now)
    return {
        "pulse": chosen.key,
        "based_on_version": current,
        "data": [{**asdict(flag), "rules_version": current + 1} for flag in flags],
    }


@router.put(
    "/v1/rules",
    response_model=RulesRead,
    responses=problems(400, 401, 403, 409, 413, 422),
    operation_id="replaceRules",
)
def put_rules(
    body: RulesUpdate, caller: AdminDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> dict[str, Any]:
    """Replace the rulebook (omitted settings take their defaults); the version goes up by one."""
    _book, current = publish.rulebook(session, caller.system_id)
    if body.version is not None and body.version != current:
        raise Conflict(f"The rulebook is at version {current}, not {body.version}; reload it.")
    try:
        book, version = publish.replace_rules(
            session, caller.system_id, body.model_dump(exclude_unset=True, exclude={"version"}), now
        )
    except RulebookError as exc:
        raise ValidationFailed(
            "The rulebook is invalid.",
            errors=[field_error(f"/{p.path}", p.detail) for p in exc.problems],
        ) from None
    audit.record(AuditAction.rules_replace, AuditTarget.rules, version)
    return {"version": version, **book.to_dict()}
