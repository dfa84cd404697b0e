"""The structure as BI lookup tables: whole, in JSON, NDJSON or CSV (``feeds:read``)."""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import NowDep, SessionDep, scoped
from app.api.feeds import FEED_RESPONSES, MEDIA, Format, _format, jsonable
from app.auth import Caller
from app.schemas.common import Page
from app.schemas.feeds import (
    OrganisationLookupRow,
    PlaceLookupRow,
    PulseLookupRow,
    TeamLookupRow,
)
from app.services.feeds import csv_table
from app.services.lookups import COLUMNS, LOOKUPS
from app.vocab import Scope

router = APIRouter(tags=["feeds"])
FeedsDep = Annotated[Caller, Depends(scoped(Scope.feeds_read))]
RESPONSES = {code: value for code, value in FEED_RESPONSES.items() if code != 304}


def _serve(
    name: str, request: Request, caller: Caller, session: Any, now: Any, fmt: str | None
) -> Response:
    rows = LOOKUPS[name](session, caller.system_id, now)
    chosen = _format(request, fmt)
    headers = {"Cache-Control": "private", "Vary": "Authorization, Accept"}
    if chosen == "csv":
        body = csv_table(COLUMNS[name], rows)
        return Response(body, media_type=MEDIA["csv"] + "; charset=utf-8", headers=headers)
    if chosen == "ndjson":
        option = orjson.OPT_UTC_Z
        body = b"".join(orjson.dumps(row, option=option) + b"\n" for row in rows)
        return Response(body, media_type=MEDIA["ndjson"], headers=headers)
    page = {"data": jsonable(rows), "next": None, "next_cursor": None}
    return JSONResponse(page, headers=headers)


@router.get(
    "/v1/feeds/places",
    response_model=Page[PlaceLookupRow],
    responses=RESPONSES,
    operation_id="getPlacesLookup",
)
def places_lookup(
    request: Request, caller: FeedsDep, session: SessionDep, now: NowDep, fmt: Format = None
) -> Response:
    """Every place, for a lookup table."""
    return _serve("places", request, caller, session, now, fmt)


@router.get(
    "/v1/feeds/organisations",
    response_model=Page[OrganisationLookupRow],
    responses=RESPONSES,
    operation_id="getOrganisationsLookup",
)
def organisations_lookup(
    request: Request, caller: FeedsDep, session: SessionDep, now: NowDep, fmt: Format = None
) -> Response:
    """Every partner organisation, for a lookup table."""
    return _serve("organisations", request, caller, session, now, fmt)


@router.get(
    "/v1/feeds/teams",
    response_model=Page[TeamLookupRow],
    responses=RESPONSES,
    operation_id="getTeamsLookup",
)
def teams_lookup(
    request: Request, caller: FeedsDep, session: SessionDep, now: NowDep, fmt: Format = None
) -> Response:
    """Every team with its place and host organisation, for a lookup table."""
    return _serve("teams", request, caller, session, now, fmt)


@router.get(
    "/v1/feeds/pulses",
    response_model=Page[PulseLookupRow],
    responses=RESPONSES,
    operation_id="getPulsesLookup",
)
def pulses_lookup(
    request: Request, caller: FeedsDep, session: SessionDep, now: NowDep, fmt: Format = None
) -> Response:
    """Every pulse with its dates and status, for a date table."""
    return _serve("pulses", request, caller, session, now, fmt)
