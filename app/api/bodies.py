"""Request bodies: JSON of bounded depth, and large ones checked away from the event loop.

Bodies are parsed by orjson, which refuses what Python's ``json`` lets through only to fail
later: a lone surrogate (``"\\ud800"``, which cannot be encoded in an answer or stored) and
invalid UTF-8. Nesting is bounded at ``MAX_DEPTH`` levels: deeper bodies (948 levels fit in
2 KB) reached the recursion limit of later steps.

A body above ``Settings.body_check_bytes`` is parsed and validated in a process of its
own (started with the service), which sends back only the validated value or a short
problem. A worker thread is not enough: orjson and pydantic-core hold the GIL for the whole
of one call, half a second for 8 MB of unknown fields, and the event loop stalls as long;
it is used only when ``Settings.body_check_workers`` is 0.
"""

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing import get_context
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from app.errors import BadRequest, ErrorList, ProblemError, Unavailable, ValidationFailed

MAX_DEPTH = 64

T = TypeVar("T")


def decode(raw: bytes) -> Any:
    """The JSON value of ``raw``; 400 when it is not JSON or is nested too deep."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {str(exc)[:200]}.") from None
    if _deeper_than(value, MAX_DEPTH):
        raise BadRequest(f"The request body is nested deeper than {MAX_DEPTH} levels.")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``limit`` levels deep."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        inner: list[Any] = []
        for container in level:
            members = container.values() if isinstance(container, dict) else container
            inner += [m for m in members if isinstance(m, dict | list)]
        level = inner
    return False


def validated(model: type[BaseModel], raw: bytes) -> BaseModel:
    """``raw`` parsed and validated as ``model``; 400 or 422 with at most 100 errors."""
    try:
        return model.model_validate(decode(raw))
    except ValidationError as exc:
        errors = ErrorList()
        errors.add_validation(exc)
        raise ValidationFailed(
            "The request body is invalid.", errors=errors.listed, error_count=errors.count
        ) from None


def _outcome(read: Callable[[bytes], T], raw: bytes) -> tuple[T | None, tuple[Any, ...] | None]:
    """``read(raw)``, or the parts of the problem it raised, to cross a process boundary."""
    try:
        return read(raw), None
    except ProblemError as error:
        return None, (type(error), error.detail, error.errors, error.error_count)


async def read_body(request: Request, read: Callable[[bytes], T], raw: bytes) -> T:
    """``read(raw)``: here when the body is small, else in the checking process."""
    app: FastAPI = request.app
    if len(raw) <= app.state.settings.body_check_bytes:
        return read(raw)
    if app.state.settings.body_check_workers == 0:
        return await anyio.to_thread.run_sync(read, raw)
    loop = asyncio.get_running_loop()
    try:
        value, problem = await loop.run_in_executor(_checker(app), _outcome, read, raw)
    except BrokenProcessPool:
        app.state.body_checker = None  # the next large body starts a new one
        raise Unavailable(
            "The request body could not be checked; try again shortly.",
            retry_after=1,
        ) from None
    if problem is not None:
        kind, detail, errors, count = problem
        raise kind(detail, errors=errors, error_count=count)
    return value  # type: ignore[return-value]


def start_checker(app: FastAPI) -> None:
    """Start the checking processes, unless there are to be none."""
    if app.state.settings.body_check_workers > 0:
        pool = _checker(app)
        for _ in range(app.state.settings.body_check_workers):
            pool.submit(_warm)  # now, while no request waits for them


def _warm() -> None:
    """Import in a checking process what its first body would (seconds on a busy machine)."""
    importlib.import_module("app.main")


def _checker(app: FastAPI) -> ProcessPoolExecutor:
    """The app's checking processes, started anew after one died."""
    pool: ProcessPoolExecutor | None = getattr(app.state, "body_checker", None)
    if pool is None:
        # Spawned, not forked: the server's threads may hold locks a fork would copy.
        pool = ProcessPoolExecutor(
            app.state.settings.body_check_workers, mp_context=get_context("spawn")
        )
        app.state.body_checker = pool
    return pool


def stop_checker(app: FastAPI) -> None:
    """Stop the checking process, if one was started."""
    pool: ProcessPoolExecutor | None = getattr(app.state, "body_checker", None)
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
        app.state.body_checker = None


class _ReadRequest(Request):
    """A request whose body has been read and validated already."""

    def __init__(self, request: Request, raw: bytes, value: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._raw, self._value = raw, value

    async def body(self) -> bytes:
        return self._raw

    async def json(self) -> Any:
        # FastAPI validates this again as the body model: an instance passes as it is.
        return self._value


class BodyRoute(APIRoute):
    """A route whose JSON body model is parsed and validated by ``validated``.

    FastAPI would parse and validate it on the event loop and build every error.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        model = self.body_field.field_info.annotation if self.body_field else None
        if len(self.dependant.body_params) != 1 or not (
            isinstance(model, type) and issubclass(model, BaseModel)
        ):
            return handle
        read = partial(validated, model)  # a partial, not a closure: it goes to the checker

        async def handler(request: Request) -> Response:
            raw = await request.body()
            if not raw:  # FastAPI says the body is required
                return await handle(request)
            try:
                value = await read_body(request, read, raw)
            except ValidationFailed as problem:
                # Said once the dependencies (the caller's key first) have passed, as FastAPI
                # does: a None body fails there at once, and the handler answers this.
                request.state.body_problem = problem
                value = None
            return await handle(_ReadRequest(request, raw, value))

        return handler
