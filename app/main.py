"""The application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, HTTPException
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy import Engine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import (
    feeds,
    insights,
    keys,
    ops,
    organisations,
    places,
    pulses,
    responses,
    system,
    teams,
)
from app.api.bodies import start_checker, stop_checker
from app.api.deps import get_now
from app.db import make_engine, make_sessionmaker
from app.errors import (
    BadRequest,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
    install_error_handlers,
    problem_response,
)
from app.migrate import head_revision
from app.schemas.responses import ResponseBatch
from app.services.results.publisher import Publisher
from app.settings import Settings, get_settings

API_DESCRIPTION = """\
Stores anonymous pulse-survey responses from integrated teams at place, computes warning
signs per team and per place, and serves them to portals, analysts and BI tools.

Authenticate with `Authorization: Bearer <api key>`, or HTTP Basic with the key as the
password. Every error is an RFC 9457 `application/problem+json` document.
"""


class RequestGuardMiddleware:
    """Refuse, as problem documents, requests no route should see.

    - a NUL character in the URL (400): PostgreSQL cannot store or compare text holding
      NUL, so it would otherwise reach the database as an error, not be refused as input;
    - a body that is not JSON (415);
    - a body over ``max_body_bytes`` (413), by Content-Length up front or while reading.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = self._refusal(scope)
        if error is not None:
            await problem_response(error)(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                # FastAPI re-raises HTTPException from body reading; the handler renders it.
                raise HTTPException(status_code=413)
            return message

        await self.app(scope, counted_receive, send)

    def _refusal(self, scope: Scope) -> ProblemError | None:
        raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
        if b"\x00" in unquote_to_bytes(raw):
            return BadRequest("The request URL contains a NUL character.")
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return PayloadTooLarge(f"The request body exceeds {self.max_body_bytes} bytes.")
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if has_body and not (media_type == "application/json" or media_type.endswith("+json")):
            return UnsupportedMediaType("Send request bodies as `application/json`.")
        return None


BODIES_PARSED_BY_ROUTES = (ResponseBatch,)


def _problem_json_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with every error response as ``application/problem+json``."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            auto = responses.get("422", {}).get("content", {}).get("application/json", {})
            if auto.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                # FastAPI's own 422 is replaced by the problem responses each route declares.
                del responses["422"]
            for status, response in responses.items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    # Bodies a route parses itself (to report every bad item at once) are declared here.
    for model in BODIES_PARSED_BY_ROUTES:
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(extra.pop("$defs", {}))
        components[model.__name__] = extra
    app.openapi_schema = schema
    return schema


def _clock(app: FastAPI) -> datetime:
    """The time the routes see: tests replace ``get_now`` with a clock they move."""
    override = app.dependency_overrides.get(get_now)
    if override is None:
        return datetime.now(UTC)
    now = override()
    if not isinstance(now, datetime):  # e.g. an async override: the publisher cannot await it
        raise TypeError("an override of get_now must be a plain function returning a datetime")
    return now


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the API. ``engine`` is made from the settings at start-up unless given."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(settings.database_url)
        app.state.sessionmaker = make_sessionmaker(app.state.engine)
        app.state.publisher = None
        # A thread of its own would open another, empty, in-memory SQLite database.
        in_memory = settings.database_url in ("sqlite://", "sqlite:///:memory:")
        if settings.publish_interval > 0 and not in_memory:
            app.state.publisher = Publisher(
                app.state.sessionmaker, settings.publish_interval, lambda: _clock(app)
            )
            app.state.publisher.start()
        start_checker(app)
        try:
            yield
        finally:
            if app.state.publisher is not None:
                app.state.publisher.stop()
            stop_checker(app)
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="Partnership engagement pulse API",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "structure", "description": "Places, organisations, teams and pulses."},
            {"name": "responses", "description": "Pulse responses from survey portals."},
            {"name": "insights", "description": "Scores and warning signs; the rulebook."},
            {"name": "feeds", "description": "Flat, incremental feeds for BI tools."},
            {"name": "keys", "description": "API keys of the system."},
            {"name": "operations", "description": "Probes and metrics."},
        ],
    )
    app.state.settings = settings
    app.state.key_secret = settings.key_secret
    app.state.head_revision = head_revision()
    install_error_handlers(app)
    for router in (
        system.router,
        places.router,
        organisations.router,
        teams.router,
        pulses.router,
        responses.router,
        insights.computed,
        insights.router,
        feeds.router,
        keys.router,
        ops.router,
    ):
        app.include_router(router)
    Instrumentator(registry=CollectorRegistry(), should_group_status_codes=False).instrument(
        app, metric_namespace="pulse"
    ).expose(app, endpoint="/metrics", include_in_schema=True, tags=["operations"])
    app.add_middleware(RequestGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    app.openapi = lambda: _problem_json_openapi(app)  # type: ignore[method-assign]
    return app
