"""Load shedding: a bounded number of requests in flight per worker, each with a deadline.

Why this bounds everything: a request holds at most one thread and one pooled connection
at a time, the thread pool has ``max_in_flight`` threads and the connection pool more than
that, so an admitted request never waits for a thread while holding a connection (the
wedge) nor for a connection while holding a thread, beyond the database's own time. A
request past the limit is answered 503 at once, never queued; one past its deadline is
answered 503 while its work, if the database holds it, goes on holding its place, so a
stalled database fills the worker with at most ``max_in_flight`` stuck requests and every
other request is refused at once, and the worker is whole again as soon as the database
answers. Probes are not admitted through here: they answer whatever the load.
"""

import asyncio
import logging
from collections.abc import Container

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import Overloaded, TimedOut, problem_response

logger = logging.getLogger(__name__)


class AdmissionMiddleware:
    """Admit at most ``limit`` requests at once; answer each within ``timeout`` seconds."""

    def __init__(
        self, app: ASGIApp, limit: int, timeout: float, exempt: Container[str] = ()
    ) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout
        self.exempt = exempt
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            refusal = Overloaded(
                f"The service is at its limit of {self.limit} requests at once; retry shortly.",
                retry_after=1,
            )
            await problem_response(refusal)(scope, receive, send)
            return
        self.in_flight += 1
        state = {"started": False, "abandoned": False}

        async def guarded_send(message: Message) -> None:
            if state["abandoned"]:
                return  # the client has had its answer; this work's result is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        # The app runs as a task of its own: work in a worker thread cannot be cancelled,
        # so the deadline is kept by not waiting for it, and the place is given back only
        # when the work is over.
        work = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        work.add_done_callback(lambda done: self._finished(done, state["abandoned"]))
        try:
            await asyncio.wait_for(asyncio.shield(work), self.timeout)
        except TimeoutError:
            if state["started"]:
                await work  # an answer is under way (e.g. a long feed): let it finish
                return
            state["abandoned"] = True
            logger.warning("%s %s took over %s s", scope["method"], scope["path"], self.timeout)
            late = TimedOut(
                f"The request took longer than {self.timeout:g} s; retry shortly.", retry_after=5
            )
            await problem_response(late)(scope, receive, send)

    def _finished(self, work: "asyncio.Future[None]", abandoned: bool) -> None:
        self.in_flight -= 1
        if abandoned and not work.cancelled() and work.exception() is not None:
            logger.error("request failed after its deadline", exc_info=work.exception())
