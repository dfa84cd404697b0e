"""Typed dependency aliases shared by the routers."""

from collections.abc import Callable, Coroutine, MutableMapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Path, Query, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from app.auth import Caller, authenticate, basic_scheme, bearer_scheme, key_secret, presented_key
from app.db import get_session
from app.errors import BadRequest, Unauthenticated, shown
from app.ratelimit import RATE_LIMITED_HEADERS, STATE_KEY, Limiter
from app.schemas.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Problem
from app.services.pagination import Slice
from app.settings import Settings
from app.vocab import CODE_MAX_LENGTH, CODE_PATTERN, Scope

# Dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` dependency in a
# worker thread, and the hand-offs cost more than the work.


async def writes_on_read(request: Request) -> None:
    """Mark a GET that may write (computing and keeping results) before its session opens."""
    request.state.writes = True


# scope="function": the session commits (or rolls back) when the endpoint returns, before
# the answer starts, so a 2xx means the write is stored and a failing commit is answered
# as the error it is. (The default, "request", ends it after the answer has been sent.)
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_now() -> datetime:
    """The current time; tests override this dependency to move the clock."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]


async def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_caller(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _bearer: Annotated[None, Security(bearer_scheme)],
    _basic: Annotated[None, Security(basic_scheme)],
) -> Caller:
    """The authenticated caller; 401 without a valid key, 429 past a rate limit."""
    limiter: Limiter = request.app.state.limiter
    address = request.client.host if request.client else "unknown"
    # An address over its failure limit is refused even with a valid key: that stops guessing.
    limiter.check_address(address)
    try:
        key = presented_key(request.headers.get("authorization"))
        secret = getattr(request.app.state, "key_secret", None)
        if secret is None:
            # The secret never changes once set, so every replica may cache it.
            secret = request.app.state.key_secret = key_secret(session, settings)
        caller = authenticate(session, secret, key, now)
    except Unauthenticated as exc:
        # The 401 says how many failures the address has left, as a 2xx says a key's.
        exc.headers.update(limiter.count_failure(address))
        raise
    setattr(request.state, STATE_KEY, limiter.count_request(caller.key_id))
    # After the key: a caller without one learns nothing of the route's parameters.
    refuse_unknown_parameters(request)
    return caller


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters ``route`` takes, its dependencies' included (kept on the route)."""
    known: frozenset[str] | None = getattr(route, "_pulse_query_names", None)
    if known is None:
        known = _names_of(route)
        route._pulse_query_names = known  # type: ignore[attr-defined]
    return known


def _names_of(route: APIRoute) -> frozenset[str]:

    def names(dependant: Dependant) -> set[str]:
        own = {p.alias for p in dependant.query_params}
        return own.union(*(names(d) for d in dependant.dependencies))

    return frozenset(names(route.dependant))


def refuse_unknown_parameters(request: Request) -> None:
    """400 naming each query parameter the route does not take: a misspelt filter
    (``?palce=``) would otherwise be ignored and answer everything."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _query_names(route))
    if unknown:
        raise BadRequest(
            f"Unknown query parameter: {shown(', '.join(unknown))}.",
            errors=[
                {"parameter": name, "detail": "not a parameter of this route"} for name in unknown
            ],
        )


CallerDep = Annotated[Caller, Depends(get_caller)]


def scoped(*any_of: Scope) -> Callable[[Caller], Coroutine[Any, Any, Caller]]:
    """A dependency that passes only callers whose key grants one of ``any_of``."""

    async def dependency(caller: CallerDep) -> Caller:
        caller.require(*any_of)
        return caller

    return dependency


AdminDep = Annotated[Caller, Depends(scoped(Scope.admin))]

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (at most {MAX_PAGE_SIZE})."),
]
Cursor = Annotated[
    str | None,
    Query(max_length=1024, description="The `next_cursor` of the previous page."),
]
DEFAULT_LIMIT = DEFAULT_PAGE_SIZE

# Path parameters, with the pattern and length every identifier of their kind has.
CodePath = Annotated[
    str,
    Path(pattern=CODE_PATTERN, max_length=CODE_MAX_LENGTH, description="The record's code."),
]
KeyPath = Annotated[
    str, Path(pattern=CODE_PATTERN, max_length=CODE_MAX_LENGTH, description="The pulse's key.")
]
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
IdPath = Annotated[
    str,
    Path(
        pattern=UUID_PATTERN,
        min_length=36,
        max_length=36,
        json_schema_extra={"format": "uuid"},
        description="The record's id (a UUID).",
    ),
]


def _bound_address(scope: MutableMapping[str, Any]) -> str:
    """The scheme and the address the server is bound to: what links use without a public URL."""
    scheme = scope.get("scheme", "http")
    host, port = scope.get("server") or ("localhost", None)
    if port is None:  # a Unix socket: its path is no host
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == {"http": 80, "https": 443}.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def absolute_url(request: Request, **params: str) -> str:
    """This request's URL with ``params`` set, on PULSE_PUBLIC_URL; never from the Host header."""
    settings: Settings = request.app.state.settings
    base = settings.public_base() or _bound_address(request.scope)
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(request.scope["path"])
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in params]
    return f"{base}{path}?{urlencode([*kept, *params.items()])}"


def page(request: Request, chunk: Slice[Any], items: list[Any]) -> dict[str, Any]:
    """A list body: the items, and the absolute URL and cursor of the next page."""
    next_url = None
    if chunk.next_cursor is not None:
        next_url = absolute_url(request, cursor=chunk.next_cursor)
    return {"data": items, "next": next_url, "next_cursor": chunk.next_cursor}


_STATUS_TEXT = {
    400: "Malformed JSON or invalid request parameters.",
    401: "Missing, unknown, expired or revoked API key.",
    403: "The API key lacks the scope this operation needs.",
    404: "No such record in the caller's system.",
    409: "The request conflicts with the current state (a taken code, a closed pulse).",
    413: "The request body is too large.",
    415: "The request body is not `application/json`.",
    422: "The body is invalid; `errors` points at each bad field.",
    429: "Over the key's rate limit, or too many failed authentications from this address.",
    500: "A fault of the service, never of the request: please report it.",
    503: (
        "Overloaded or timed out, or the database cannot be reached, is busy, read-only, "
        "full or not migrated; retry after `Retry-After` seconds."
    ),
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the problem responses a route may give."""
    statuses = (*statuses, 500, 503)  # every such route needs the database; any may fail
    if 422 in statuses:
        statuses = (*statuses, 415)  # every route with a body also refuses non-JSON bodies
    if 401 in statuses:
        # Every route with a key is rate-limited and refuses unknown query parameters.
        statuses = (*statuses, 400, 429)
    declared: dict[int | str, dict[str, Any]] = {
        s: {"model": Problem, "description": _STATUS_TEXT[s]} for s in sorted(set(statuses))
    }
    if 429 in declared:
        declared[429]["headers"] = RATE_LIMITED_HEADERS
    return declared
