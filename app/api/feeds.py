"""Feeds for BI tools: flat rows of closed pulses, incremental, paged, JSON / NDJSON / CSV."""

from datetime import date, datetime
from email.utils import format_datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.conditional import not_modified
from app.api.deps import (
    Cursor,
    NowDep,
    SessionDep,
    absolute_url,
    problems,
    scoped,
    writes_on_read,
)
from app.auth import Caller
from app.errors import BadRequest
from app.schemas.common import Day, Page, UtcDatetime
from app.schemas.feeds import ParticipationFeedRow, ScoreFeedRow, WarningSignFeedRow
from app.services import feeds, structure
from app.services.feeds import PARTICIPATION, SCORES, WARNING_SIGNS, Feed, FeedQuery
from app.vocab import Dimension, Rule, Scope, Severity

router = APIRouter(tags=["feeds"], dependencies=[Depends(writes_on_read)])
FeedsDep = Annotated[Caller, Depends(scoped(Scope.feeds_read))]

MEDIA = {"json": "application/json", "ndjson": "application/x-ndjson", "csv": "text/csv"}
JSON_LIMIT = 1000
STREAM_LIMIT = 1_000_000

# The contract declares the JSON pages only: a client generated from it parses every 200 it
# declares as JSON, so NDJSON and CSV (for BI tools, by `format=` or Accept) are described
# in docs/API.md and the operation's text instead, and `format` is left out of the
# contract. A separate operation per format would double the feeds' paths for the sake of
# generators that are never pointed at CSV.
Format = Annotated[
    Literal["json", "ndjson", "csv"] | None,
    Query(
        alias="format",
        include_in_schema=False,
        description="json, ndjson or csv; overrides the Accept header (for tools that "
        "cannot set it).",
    ),
]
FeedLimit = Annotated[
    int | None,
    Query(
        ge=1,
        le=STREAM_LIMIT,
        description=f"Rows per page: up to {JSON_LIMIT} for JSON (default 100), up to "
        f"{STREAM_LIMIT:,} for NDJSON and CSV (default 100,000).",
    ),
]
UpdatedFrom = Annotated[
    UtcDatetime | None,
    Query(description="Only rows updated at or after this instant (inclusive)."),
]
UpdatedTo = Annotated[
    UtcDatetime | None,
    Query(description="Only rows updated before this instant (exclusive)."),
]
ClosesFrom = Annotated[
    Day | None,
    Query(
        description="Only rows of pulses that close on or after this day (inclusive; "
        "Power BI's RangeStart). A row's close date never changes: partition on it."
    ),
]
ClosesTo = Annotated[
    Day | None,
    Query(description="Only rows of pulses that close before this day (exclusive; RangeEnd)."),
]
Code = Annotated[str | None, Query(max_length=64)]

FEED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of rows, with `next` and a Link header. `format=ndjson` or "
        "`format=csv` (or Accept `application/x-ndjson`, `text/csv`) answers the same rows "
        'as NDJSON or CSV instead: see docs/API.md, "The contract and generated clients".'
    },
    304: {"description": "Not modified since the ETag sent in If-None-Match."},
    **problems(400, 401, 403, 404),
}


def _format(request: Request, chosen: str | None) -> str:
    if chosen is not None:
        return chosen
    accept = request.headers.get("accept", "")
    if "application/x-ndjson" in accept:
        return "ndjson"
    if "text/csv" in accept:
        return "csv"
    return "json"


def _serve(
    request: Request,
    feed: Feed,
    caller: Caller,
    session: Any,
    now: Any,
    fmt: str | None,
    limit: int | None,
    query: FeedQuery,
) -> Response:
    feeds_filters = {"pulse": query.pulse, "place": query.place, "team": query.team}
    structure.check_filters(session, caller.system_id, **feeds_filters)
    chosen = _format(request, fmt)
    default = 100 if chosen == "json" else 100_000
    if chosen == "json" and limit is not None and limit > JSON_LIMIT:
        raise BadRequest(
            f"JSON pages hold at most {JSON_LIMIT} rows; use format=ndjson or csv for more.",
            errors=[{"parameter": "limit", "detail": f"at most {JSON_LIMIT} for JSON"}],
        )
    query = query.with_limit(limit or default)
    # Results kept here are committed when this function returns, before the answer (and
    # its streaming reader, on a session of its own) starts: see ``api.deps.SessionDep``.
    feeds.publish_closed(session, caller.system, now)
    changed = feeds.last_change(session, feed, caller.system_id)
    tag = feeds.etag(feed, query, chosen, changed)
    headers = {"ETag": tag, "Cache-Control": "private", "Vary": "Authorization, Accept"}
    if changed is not None:
        headers["Last-Modified"] = format_datetime(changed, usegmt=True)
    if not_modified(request.headers, tag, headers.get("Last-Modified")):
        return Response(status_code=304, headers=headers)
    if chosen == "json":
        data, cursor = feeds.json_page(session, feed, caller.system_id, query)
        next_url = _next(request, cursor, headers)
        body = {"data": jsonable(data), "next": next_url, "next_cursor": cursor}
        return JSONResponse(body, headers=headers)
    last, cursor = feeds.stream_bounds(session, feed, caller.system_id, query)
    _next(request, cursor, headers)
    evidence = feeds.evidence_keys(session, caller.system_id) if feed is WARNING_SIGNS else []
    rows = feeds.stream(
        request.app.state.sessionmaker, feed, caller.system_id, query, last, chosen, evidence
    )
    media = MEDIA[chosen] + ("; charset=utf-8" if chosen == "csv" else "")
    return StreamingResponse(rows, media_type=media, headers=headers)


def _next(request: Request, cursor: str | None, headers: dict[str, str]) -> str | None:
    if cursor is None:
        return None
    url = absolute_url(request, cursor=cursor)
    headers["Link"] = f'<{url}>; rel="next"'
    return url


def jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their timestamps as ISO 8601 in UTC, and dates as ISO 8601 days."""
    return [{name: _plain(value) for name, value in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


@router.get(
    "/v1/feeds/scores",
    response_model=Page[ScoreFeedRow],
    responses=FEED_RESPONSES,
    operation_id="getScoresFeed",
)
def scores_feed(
    request: Request,
    caller: FeedsDep,
    session: SessionDep,
    now: NowDep,
    pulse: Annotated[Code, Query(description="Only this pulse.")] = None,
    place: Annotated[Code, Query(description="Only this place.")] = None,
    team: Annotated[Code, Query(description="Only this team.")] = None,
    dimension: Annotated[Dimension | None, Query(description="Only this dimension.")] = None,
    updated_from: UpdatedFrom = None,
    updated_to: UpdatedTo = None,
    closes_from: ClosesFrom = None,
    closes_to: ClosesTo = None,
    fmt: Format = None,
    limit: FeedLimit = None,
    cursor: Cursor = None,
) -> Response:
    """One row per published or suppressed cell of every closed pulse, by (updated_at, id)."""
    query = FeedQuery(
        pulse=pulse,
        place=place,
        team=team,
        dimension=dimension,
        updated_from=updated_from,
        updated_to=updated_to,
        closes_from=closes_from,
        closes_to=closes_to,
        cursor=cursor,
    )
    return _serve(request, SCORES, caller, session, now, fmt, limit, query)


@router.get(
    "/v1/feeds/warning-signs",
    response_model=Page[WarningSignFeedRow],
    responses=FEED_RESPONSES,
    operation_id="getWarningSignsFeed",
)
def warning_signs_feed(
    request: Request,
    caller: FeedsDep,
    session: SessionDep,
    now: NowDep,
    pulse: Annotated[Code, Query(description="Only this pulse.")] = None,
    place: Annotated[Code, Query(description="Only this place.")] = None,
    team: Annotated[Code, Query(description="Only this team.")] = None,
    dimension: Annotated[Dimension | None, Query(description="Only this dimension.")] = None,
    rule: Annotated[Rule | None, Query(description="Only this rule.")] = None,
    severity: Annotated[Severity | None, Query(description="Only this severity.")] = None,
    updated_from: UpdatedFrom = None,
    updated_to: UpdatedTo = None,
    closes_from: ClosesFrom = None,
    closes_to: ClosesTo = None,
    fmt: Format = None,
    limit: FeedLimit = None,
    cursor: Cursor = None,
) -> Response:
    """Every warning sign of every closed pulse, by (updated_at, id)."""
    query = FeedQuery(
        pulse=pulse,
        place=place,
        team=team,
        dimension=dimension,
        rule=rule,
        severity=severity,
        updated_from=updated_from,
        updated_to=updated_to,
        closes_from=closes_from,
        closes_to=closes_to,
        cursor=cursor,
    )
    return _serve(request, WARNING_SIGNS, caller, session, now, fmt, limit, query)


@router.get(
    "/v1/feeds/participation",
    response_model=Page[ParticipationFeedRow],
    responses=FEED_RESPONSES,
    operation_id="getParticipationFeed",
)
def participation_feed(
    request: Request,
    caller: FeedsDep,
    session: SessionDep,
    now: NowDep,
    pulse: Annotated[Code, Query(description="Only this pulse.")] = None,
    place: Annotated[Code, Query(description="Only this place.")] = None,
    team: Annotated[Code, Query(description="Only this team.")] = None,
    updated_from: UpdatedFrom = None,
    updated_to: UpdatedTo = None,
    closes_from: ClosesFrom = None,
    closes_to: ClosesTo = None,
    fmt: Format = None,
    limit: FeedLimit = None,
    cursor: Cursor = None,
) -> Response:
    """Responses, headcount and response rate of every team and place in every closed pulse."""
    query = FeedQuery(
        pulse=pulse,
        place=place,
        team=team,
        updated_from=updated_from,
        updated_to=updated_to,
        closes_from=closes_from,
        closes_to=closes_to,
        cursor=cursor,
    )
    return _serve(request, PARTICIPATION, caller, session, now, fmt, limit, query)
