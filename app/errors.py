"""One error base and one handler: every error is RFC 9457 ``application/problem+json``.

ProblemError                  any error the API answers with on purpose
├── BadRequest          400   malformed JSON, bad query parameters or cursor
├── Unauthenticated     401   missing, unknown, expired or revoked key
├── Forbidden           403   the key lacks the scope
├── NotFound            404   no such record in the caller's system
├── MethodNotAllowed    405   the path does not take the method (``Allow`` lists those it does)
├── RequestTimeout      408   the body arrived too slowly
├── Conflict            409   duplicate code, closed pulse, state that forbids the change
├── PayloadTooLarge     413   body or batch over the limit, compressed or decompressed
├── UnsupportedMediaType 415  a body that is not JSON, or a Content-Encoding other than gzip
├── ValidationFailed    422   the body is well-formed JSON but invalid
├── TooManyRequests     429   over the key's rate limit, or the address's failed logins
└── Unavailable         503   the database cannot be reached, is busy, or is not migrated
    ├── DatabaseReadOnly    503   the database accepts no writes
    ├── DatabaseFull        503   the database's storage is full
    ├── Overloaded          503   the worker is at its limit of requests in flight
    ├── ResultsComputing    503   a closed pulse's first results are still being computed
    └── TimedOut            503   the request took longer than ``request_timeout``
"""

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.faults import Fault, classify

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# Problem types are relative URI references (RFC 9457 section 3.1.1), described in docs/API.md.
TYPE_BASE = "/problems/"
# The contract's caps (app/schemas/common.py, Problem and FieldProblem).
DETAIL_MAX = 2000
FIELD_MAX = {"pointer": 1024, "parameter": 200, "detail": DETAIL_MAX}


def shown(value: object, limit: int = 100) -> str:
    """``value`` as text cut to ``limit`` characters: how much of the input a detail echoes."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# An answer lists at most this many entries in ``errors``; ``error_count`` says how many in all.
MAX_ERRORS = 100


class ProblemError(Exception):
    """An error answered as a problem document."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        error_count: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = shown(detail, DETAIL_MAX)
        self.errors = None
        if errors is not None:
            self.errors = [
                {k: shown(v, FIELD_MAX.get(k, DETAIL_MAX)) for k, v in e.items()}
                for e in errors[:MAX_ERRORS]
            ]
        self.error_count = error_count
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The problem document."""
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            doc["errors"] = self.errors[:MAX_ERRORS]
            doc["error_count"] = max(self.error_count or 0, len(self.errors))
        return doc


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad request"


# Both schemes a key is taken by (RFC 9110 section 11.6.1), each in a field of its own, so
# that clients which pick one (``curl --anyauth``) find Basic as well as Bearer.
CHALLENGES = ('Bearer realm="pulse"', 'Basic realm="pulse", charset="UTF-8"')


class Unauthenticated(ProblemError):
    status, slug, title = 401, "unauthenticated", "Authentication required"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(ProblemError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class RequestTimeout(ProblemError):
    status, slug, title = 408, "request-timeout", "Request timeout"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(ProblemError):
    status, slug, title = 422, "validation-failed", "Validation failed"


class TooManyRequests(ProblemError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class Unavailable(ProblemError):
    status, slug, title = 503, "unavailable", "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class DatabaseReadOnly(Unavailable):
    slug, title = "database-read-only", "Database is read-only"


class DatabaseFull(Unavailable):
    slug, title = "database-full", "Database storage is full"


class Overloaded(Unavailable):
    slug, title = "overloaded", "Service overloaded"


class TimedOut(Unavailable):
    slug, title = "timeout", "Request timed out"


class ResultsComputing(Unavailable):
    slug, title = "results-computing", "Results being computed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, retry_after=5)


def database_problem(fault: Fault) -> Unavailable:
    """The problem a request answers when the database is in ``fault``."""
    if fault is Fault.read_only:
        return DatabaseReadOnly("The database accepts no writes; retry later.", retry_after=30)
    if fault is Fault.full:
        return DatabaseFull("The database's storage is full; retry later.", retry_after=30)
    return Unavailable("The database cannot be reached or is busy; try again shortly.")


def field_error(pointer: str, detail: str) -> dict[str, str]:
    """One entry of a validation ``errors`` list: a JSON pointer into the body."""
    return {"pointer": pointer, "detail": detail}


@dataclass
class ErrorList:
    """The first ``MAX_ERRORS`` entries of an ``errors`` list, and how many there are in all."""

    listed: list[dict[str, str]] = field(default_factory=list)
    count: int = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, entry: dict[str, str]) -> None:
        """Count ``entry``, and keep it while there is room."""
        self.count += 1
        if len(self.listed) < MAX_ERRORS:
            self.listed.append(entry)

    def add_validation(self, exc: PydanticValidationError, prefix: str = "") -> None:
        """Count the errors of ``exc``, and keep those there is room for."""
        room = MAX_ERRORS - len(self.listed)
        if room > 0:
            self.listed += validation_errors(exc, prefix, limit=room)
        self.count += exc.error_count()


def _pointer(loc: Sequence[str | int]) -> str:
    """A JSON pointer (RFC 6901) from a Pydantic error location; '' is the whole document."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


def problem_response(error: ProblemError) -> JSONResponse:
    """Render ``error`` as an ``application/problem+json`` response."""
    response = JSONResponse(
        error.body(), status_code=error.status, media_type=PROBLEM_JSON, headers=error.headers
    )
    if error.status == 401:
        for challenge in CHALLENGES:
            response.headers.append("WWW-Authenticate", challenge)
    return response


def validation_errors(
    exc: PydanticValidationError, prefix: str = "", limit: int = MAX_ERRORS
) -> list[dict[str, str]]:
    """The first ``limit`` ``errors`` entries of a Pydantic validation error, under ``prefix``."""
    if exc.error_count() <= limit:
        found = exc.errors(include_url=False, include_context=False, include_input=False)
    else:
        found = _first_errors(exc, limit)
    return [field_error(prefix + _pointer(err["loc"]), err["msg"]) for err in found]


def _first_errors(exc: PydanticValidationError, limit: int) -> list[Any]:
    """The first ``limit`` errors of ``exc``, which holds more."""
    # ``errors()`` builds Python objects for every error, about 7 µs each (3 s for the
    # 450,000 of a body of unknown fields); pydantic-core writes them all as JSON many times
    # faster, and only the first few are read back.
    text = exc.json(include_url=False, include_context=False, include_input=False)
    decoder = json.JSONDecoder()
    found: list[Any] = []
    position = 1  # past the opening "["
    while len(found) < limit:
        entry, position = decoder.raw_decode(text, position)
        found.append(entry)
        position += 1  # past the ","
    return found


def from_validation_error(exc: RequestValidationError) -> ProblemError:
    """Translate FastAPI's validation error: body problems are 422, the rest 400."""
    body_errors, parameter_errors = ErrorList(), ErrorList()
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        where = loc[0] if loc else "body"
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            return BadRequest("The request body is not valid JSON.")
        if where == "body":
            body_errors.add(field_error(_pointer(loc[1:]), message))
        else:
            name = str(loc[1]) if len(loc) > 1 else str(where)
            parameter_errors.add({"parameter": name, "in": str(where), "detail": message})
    if parameter_errors:
        return BadRequest(
            "One or more request parameters are invalid.",
            errors=parameter_errors.listed,
            error_count=parameter_errors.count,
        )
    return ValidationFailed(
        "The request body is invalid.", errors=body_errors.listed, error_count=body_errors.count
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, expected or not, a problem document."""

    @app.exception_handler(ProblemError)
    async def _problem(_request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        deferred = getattr(request.state, "body_problem", None)  # see app.api.bodies
        if deferred is not None and all(err["loc"][:1] == ("body",) for err in exc.errors()):
            return problem_response(deferred)
        return problem_response(from_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error: ProblemError
        if exc.status_code == 400:
            # FastAPI's only 400: a JSON body it could not decode (e.g. bytes that are not UTF-8).
            error = BadRequest("The request body is not valid JSON (JSON is UTF-8 text).")
        elif exc.status_code == 404:
            error = NotFound("No resource at this path.")
        elif exc.status_code == 413:
            error = PayloadTooLarge("The request body is too large.")
        elif exc.status_code == 408:
            error = RequestTimeout("The request body arrived too slowly; send it again.")
        elif exc.status_code == 405:
            error = MethodNotAllowed("This method is not allowed on this path.")
        else:
            error = ProblemError(str(exc.detail))
            error.status = exc.status_code
            error.title = "Error"
            error.slug = "http-error"
        error.headers = dict(exc.headers or {})
        return problem_response(error)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    @app.exception_handler(psycopg.Error)  # the COPY path uses psycopg directly
    @app.exception_handler(sqlite3.Error)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        fault = classify(exc)
        if fault is None:
            logger.error("database error", exc_info=exc)
            return problem_response(ProblemError("An unexpected error occurred."))
        # Lost connections, pool exhaustion, lock time-outs, a read-only or full database:
        # the request may be retried; the cause is logged, and /readyz reports the last two.
        logger.warning("database %s: %s", fault, getattr(exc, "orig", None) or exc)
        request.app.state.db_faults.note(fault)
        return problem_response(database_problem(fault))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        response = problem_response(ProblemError("An unexpected error occurred."))
        # Answered outside the middlewares, so it sets the header they set on the rest.
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
