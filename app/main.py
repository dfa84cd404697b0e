"""The application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
from anyio import to_thread
from fastapi import Depends, FastAPI, HTTPException
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy import Engine
from sqlalchemy.pool import NullPool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.admission import AdmissionMiddleware
from app.api import (
    audit,
    feeds,
    insights,
    keys,
    lookups,
    openapi,
    ops,
    organisations,
    places,
    pulses,
    responses,
    system,
    teams,
)
from app.api.bodies import start_checker, stop_checker
from app.api.deps import get_now, problems, scoped
from app.api.ops import PROBES
from app.db import make_engine, make_sessionmaker
from app.errors import (
    BadRequest,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
    install_error_handlers,
    problem_response,
)
from app.faults import FaultMemory
from app.middleware import ContentEncodingMiddleware, MethodsMiddleware, SecurityHeadersMiddleware
from app.migrate import head_revision
from app.ratelimit import Limiter, RateLimitHeadersMiddleware
from app.schemas.responses import ResponseBatch
from app.services.results.publisher import Publisher
from app.settings import MetricsAccess, Settings, get_settings
from app.supervision import watch_supervisor
from app.usage import KeyUseMiddleware, KeyUseRecorder
from app.view import router as view_router
from app.view import static_files as view_static_files
from app.vocab import Scope as KeyScope

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
    - a body over ``max_body_bytes`` (413), by Content-Length up front or while reading;
    - a body whose next part takes over ``read_timeout`` seconds to arrive (408).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, read_timeout: float = 10.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = self._refusal(scope)
        if error is not None:
            await problem_response(error)(scope, receive, send)
            return
        received = 0

        body_done = False

        async def counted_receive() -> Message:
            nonlocal received, body_done
            if body_done:
                return await receive()  # after the body: a disconnect, however late
            try:
                # A client trickling its body must not hold a place for ever.
                with anyio.fail_after(self.read_timeout):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(status_code=408) from None
            body_done = not message.get("more_body", False)
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


# Bodies a route parses itself (to report every bad item at once), declared in the contract.
BODIES_PARSED_BY_ROUTES = (ResponseBatch,)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, built once (``app.api.openapi``)."""
    if not app.openapi_schema:
        app.openapi_schema = openapi.build(app, BODIES_PARSED_BY_ROUTES)
    return app.openapi_schema


def _clock(app: FastAPI) -> datetime:
    """The time the routes see: tests replace ``get_now`` with a clock they move."""
    override = app.dependency_overrides.get(get_now)
    if override is None:
        return datetime.now(UTC)
    now = override()
    if not isinstance(now, datetime):  # e.g. an async override: the publisher cannot await it
        raise TypeError("an override of get_now must be a plain function returning a datetime")
    return now


def _expose_metrics(app: FastAPI, access: MetricsAccess) -> None:
    """Count requests by route and serve them at ``/metrics``, to admin keys unless open."""
    needs_key = access == MetricsAccess.key
    Instrumentator(registry=CollectorRegistry(), should_group_status_codes=False).instrument(
        app, metric_namespace="pulse"
    ).expose(
        app,
        endpoint="/metrics",
        include_in_schema=True,
        tags=["operations"],
        response_class=Response,  # no JSON declared: the body is text
        dependencies=[Depends(scoped(KeyScope.admin))] if needs_key else [],
        responses={
            200: {
                "description": "The Prometheus text exposition format.",
                "content": {"text/plain": {"schema": {"type": "string", "maxLength": 2**24}}},
            },
            **(problems(401, 403) if needs_key else {}),
        },
        summary="Metrics",
        operation_id="getMetrics",
        description="Prometheus metrics of the whole service: requests and latency by route.",
    )


def _engines(settings: Settings) -> list[Engine]:
    """The engines of a process: requests', the background publisher's, the probes'."""
    url = settings.database_url
    if url in ("sqlite://", "sqlite:///:memory:"):
        return [make_engine(url)]  # one connection is the whole database
    timeouts = {"connect_timeout": settings.db_connect_timeout}
    requests = make_engine(
        url,
        # SQLite's one writer at a time (the publisher's computation holds the write lock)
        # keeps its own 30 s wait: shorter, a first read after start-up would fail.
        statement_timeout=None if url.startswith("sqlite") else settings.db_statement_timeout,
        pool_size=settings.db_pool_size or settings.max_in_flight + 2,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        **timeouts,
    )
    background = make_engine(url, pool_size=2, max_overflow=0, **timeouts)
    # Probes open a connection of their own each time: a full pool must not fail them.
    probes = make_engine(url, statement_timeout=2, poolclass=NullPool, **timeouts)
    return [requests, background, probes]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the API. ``engine`` is made from the settings at start-up unless given."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests in flight, threads and connections are sized together (app.admission).
        to_thread.current_default_thread_limiter().total_tokens = settings.max_in_flight
        engines = [engine] if engine is not None else _engines(settings)
        app.state.engine = engines[0]
        app.state.sessionmaker = make_sessionmaker(engines[0])
        app.state.probe_engine = engines[-1]
        app.state.db_faults = FaultMemory()
        app.state.publisher = None
        # A thread of its own would open another, empty, in-memory SQLite database.
        in_memory = settings.database_url in ("sqlite://", "sqlite:///:memory:")
        if settings.publish_interval > 0 and not in_memory:
            app.state.publisher = Publisher(
                make_sessionmaker(engines[1 if len(engines) > 1 else 0]),
                settings.publish_interval,
                lambda: _clock(app),
            )
            app.state.publisher.start()
        app.state.key_uses = KeyUseRecorder(
            lambda: app.state.sessionmaker(),
            lambda: _clock(app),
            capacity=settings.audit_buffer_size,
            flush_interval=0 if in_memory else settings.audit_flush_interval,
            retention_days=settings.audit_retention_days,
        )
        app.state.key_uses.start()
        watching = watch_supervisor()
        start_checker(app)
        try:
            yield
        finally:
            if watching is not None:
                watching.set()
            if app.state.publisher is not None:
                app.state.publisher.stop()
            stop_checker(app)
            app.state.key_uses.stop()
            if engine is None:
                for own in engines:
                    own.dispose()

    # The documentation pages load their assets from the service, never from a CDN.
    factory = FastAPIOffline if settings.docs else FastAPI
    app = factory(
        docs_url="/docs" if settings.docs else None,
        redoc_url="/redoc" if settings.docs else None,
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
            {"name": "audit", "description": "Who did what: admin actions and uses of keys."},
            {"name": "operations", "description": "Probes and metrics."},
        ],
    )
    app.state.settings = settings
    # A redirect to the path with or without a slash would be built from the Host header.
    app.router.redirect_slashes = False
    app.state.key_secret = settings.key_secret
    app.state.head_revision = head_revision()
    app.state.limiter = Limiter(settings)
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
        lookups.router,
        keys.router,
        audit.router,
        ops.router,
        view_router,
    ):
        app.include_router(router)
    app.mount("/view/static", view_static_files(), name="view-static")
    if settings.metrics != MetricsAccess.off:
        _expose_metrics(app, settings.metrics)
    app.add_middleware(
        RequestGuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        read_timeout=settings.body_read_timeout,
    )
    app.add_middleware(RateLimitHeadersMiddleware)
    # Added last is outermost: proxies, headers, methods, admission, then body decoding,
    # so a refused request is answered before its body is read or inflated.
    app.add_middleware(ContentEncodingMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(KeyUseMiddleware, recorder=lambda: getattr(app.state, "key_uses", None))
    app.add_middleware(
        AdmissionMiddleware,
        limit=settings.max_in_flight,
        timeout=settings.request_timeout,
        exempt=PROBES,
    )
    app.add_middleware(MethodsMiddleware, routes=app.router.routes)
    app.add_middleware(
        SecurityHeadersMiddleware, hsts=(settings.public_base() or "").startswith("https:")
    )
    if settings.trusted_proxies.strip():
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
