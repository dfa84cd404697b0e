"""ASGI middlewares for a real deployment: body codings, methods, and security headers.

Each wraps the whole application, so what it does holds on every path, problem answers
included. The order they are added in is set in ``app.main.create_app``.
"""

import re
import zlib
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import (
    BadRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    problem_response,
    shown,
)
from app.view import CONTENT_SECURITY_POLICY

# A gzip stream with its header and trailer (RFC 1952), as zlib reads it.
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def _wrap_send(send: Send, change: Callable[[Message], Message | None]) -> Send:
    """``send`` with each message passed through ``change`` (None: the message is dropped)."""

    async def sending(message: Message) -> None:
        changed = change(message)
        if changed is not None:
            await send(changed)

    return sending


class ContentEncodingMiddleware:
    """Decode ``Content-Encoding: gzip`` bodies, never past ``max_body_bytes``.

    The body is inflated piece by piece with a cap on each output, so a zip bomb costs at
    most ``max_body_bytes`` of memory before it is refused (413). A corrupt or truncated
    gzip body is a 400; any other coding a 415 with ``Accept-Encoding: gzip``. Routes then
    see a plain body with its decoded Content-Length.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        codings = [
            coding.strip().lower()
            for value in headers.getlist("content-encoding")
            for coding in value.split(",")
            if coding.strip().lower() not in ("", "identity")
        ]
        length = headers.get("content-length")
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        if not codings or not has_body:
            await self.app(scope, receive, send)
            return
        if codings not in (["gzip"], ["x-gzip"]):
            error = UnsupportedMediaType(
                f"Content-Encoding '{shown(', '.join(codings))}' is not supported; "
                "send `gzip` or no encoding.",
                headers={"Accept-Encoding": "gzip"},
            )
            await problem_response(error)(scope, receive, send)
            return
        try:
            body = await self._inflate(receive)
        except (BadRequest, PayloadTooLarge) as error:
            await problem_response(error)(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        raw = [
            (name, value)
            for name, value in scope["headers"]
            if name not in (b"content-encoding", b"content-length", b"transfer-encoding")
        ]
        raw.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": raw}, _replay(body, receive), send)

    async def _inflate(self, receive: Receive) -> bytes | None:
        """The decoded body; None when the client disconnected."""
        limit = self.max_body_bytes
        inflater = zlib.decompressobj(wbits=_GZIP_WBITS)
        decoded = bytearray()
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            data = message.get("body", b"")
            more = message.get("more_body", False)
            received += len(data)
            if received > limit:
                raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
            while data:
                try:
                    # Never more than one byte past the cap: max_length bounds each output.
                    decoded += inflater.decompress(data, limit - len(decoded) + 1)
                except zlib.error:
                    raise BadRequest("The request body is not valid gzip data.") from None
                if len(decoded) > limit:
                    raise PayloadTooLarge(
                        f"The request body exceeds {limit} bytes once decompressed."
                    )
                if inflater.eof:
                    # Concatenated gzip members are one body (RFC 1952, section 2.2).
                    data = inflater.unused_data
                    if data:
                        inflater = zlib.decompressobj(wbits=_GZIP_WBITS)
                else:
                    data = inflater.unconsumed_tail
        if received and not inflater.eof:
            raise BadRequest("The gzip request body is truncated.")
        return bytes(decoded)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then what the client sends (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


# The methods routes are declared with; HEAD and OPTIONS are answered here.
_ROUTE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method the routes take at this path (HEAD beside GET, and OPTIONS); [] if none."""
    methods: set[str] = set()
    for method in _ROUTE_METHODS:
        probe = {**scope, "method": method}
        for route in routes:
            # Probed by matching: included routers keep their routes to themselves.
            if route.matches(probe)[0] == Match.FULL:
                # A mount (the documentation's assets) serves files: GET only.
                if method == "GET" or not isinstance(route, Mount):
                    methods.add(method)
                break
    if not methods:
        return []
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods | {"OPTIONS"})


class MethodsMiddleware:
    """HEAD wherever GET is; OPTIONS and every 405 list all the methods of the path.

    HEAD runs the GET route and sends its status and headers without the body. OPTIONS on
    a path that exists answers 204 with ``Allow`` (no key needed: the methods are in the
    public contract); on one that does not, 404.
    """

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes
        self.documented: list[tuple[re.Pattern[str], bool, set[str]]] | None = None
        self.resources: dict[str, set[str]] = {}  # the contract's paths without a template

    def _found(self, scope: Scope) -> list[tuple[bool, set[str]]]:
        """The contract's paths that match the request's: (written without a template, methods)."""
        self._read_contract(scope)
        assert self.documented is not None
        return [(exact, ms) for rx, exact, ms in self.documented if rx.match(scope["path"])]

    def _read_contract(self, scope: Scope) -> None:
        if self.documented is not None:
            return
        paths = scope["app"].openapi()["paths"] if "app" in scope else {}
        self.documented = [
            (
                re.compile("^" + "[^/]+".join(map(re.escape, re.split(r"\{[^/}]+\}", path))) + "$"),
                "{" not in path,
                {m.upper() for m in item},
            )
            for path, item in paths.items()
        ]
        self.resources = {
            path: {m.upper() for m in item} for path, item in paths.items() if "{" not in path
        }

    def refused(self, scope: Scope) -> bool:
        """The path is a resource of its own in the contract that does not take the method.

        The router would hand DELETE /v1/responses/batch to DELETE
        /v1/responses/{response_id} (and answer 400 for a short id); it is a 405. Asked on
        every request, so it is one lookup, not a scan of the contract's paths.
        """
        self._read_contract(scope)
        methods = self.resources.get(scope["path"])
        return methods is not None and scope["method"] not in methods

    def allowed(self, scope: Scope) -> list[str]:
        """The methods of the path: the contract's, where it has the path, else the routes'.

        A path that is a resource of its own (/v1/responses/batch) is not also the template
        beside it (/v1/responses/{response_id}), though the router would match both.
        """
        found = self._found(scope)
        if not found:
            return allowed_methods(self.routes, scope)
        exact = [ms for is_exact, ms in found if is_exact]
        methods = set().union(*(exact or [ms for _, ms in found]))
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods | {"OPTIONS"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            allowed = self.allowed(scope)
            if allowed:
                response = Response(status_code=204, headers={"Allow": ", ".join(allowed)})
                await response(scope, receive, send)
                return
        if method == "HEAD":
            scope = {**scope, "method": "GET"}

        def change(message: Message) -> Message | None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = self.allowed(scope)
                MutableHeaders(scope=message)["Allow"] = ", ".join(allowed)
            if method == "HEAD" and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return None
                return {"type": "http.response.body", "body": b"", "more_body": False}
            return message

        if self.refused(scope):  # the 405 goes through ``change``, for its Allow and HEAD
            refusal = MethodNotAllowed("This method is not allowed on this path.")
            await problem_response(refusal)(scope, receive, _wrap_send(send, change))
            return
        await self.app(scope, receive, _wrap_send(send, change))


class SecurityHeadersMiddleware:
    """Headers every answer carries.

    - ``X-Content-Type-Options: nosniff`` always;
    - ``Cache-Control: no-store`` on answers to requests with credentials, unless the route
      chose its own (the feeds answer ``private`` with an ETag, for conditional requests);
    - ``Strict-Transport-Security`` when the public URL is https;
    - on the analyst's view (``/view``), its own ``Content-Security-Policy``.
    """

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = "authorization" in Headers(scope=scope)
        view = scope["path"] == "/view" or scope["path"].startswith("/view/")

        def change(message: Message) -> Message:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                if authenticated:
                    headers.setdefault("Cache-Control", "no-store")
                if view:
                    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                    headers["Referrer-Policy"] = "no-referrer"
            return message

        await self.app(scope, receive, _wrap_send(send, change))
