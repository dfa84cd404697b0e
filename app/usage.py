"""Every use of a key, recorded without a write in the request: buffered, written in batches.

``KeyUseMiddleware`` opens a slot per request; ``auth.authenticate`` names in it the key it
found (valid or not), through a context variable, so no route and no dependency changes;
once the answer has started the middleware puts a record (key, route, status, time) in
the ``KeyUseRecorder``'s bounded buffer. A thread writes the buffer every
``flush_interval`` seconds in one INSERT, and purges events past their retention hourly.

Why a buffer: a read's transaction is read-only, and a write per request would double the
database's work for reads. What it costs: the records of the last ``flush_interval``
seconds are lost if the process is killed (a graceful shutdown writes them); past
``capacity`` records waiting (the database unreachable), the newest are dropped, counted
and logged.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services import audit
from app.services.audit import Event
from app.vocab import AuditAction, AuditTarget

log = logging.getLogger(__name__)

PURGE_EVERY = 3600.0  # seconds


@dataclass(slots=True)
class KeyUse:
    """Whose key a request presented, once authentication has found it."""

    system_id: int | None = None
    key_id: uuid.UUID | None = None


_current: ContextVar[KeyUse | None] = ContextVar("pulse_key_use", default=None)


def key_found(system_id: int, key_id: uuid.UUID) -> None:
    """Name the key the current request presented (called by authentication)."""
    use = _current.get()
    if use is not None:
        use.system_id, use.key_id = system_id, key_id


class KeyUseRecorder:
    """A bounded buffer of key-use records, written in batches by a thread of its own."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Callable[[], datetime],
        *,
        capacity: int,
        flush_interval: float,
        retention_days: int,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.capacity = capacity
        self.flush_interval = flush_interval
        self.retention_days = retention_days
        self.dropped = 0
        self._buffer: list[Event] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._purged_at = float("-inf")

    def add(self, event: Event) -> None:
        """Buffer ``event``; drop it (and count it) when the buffer is full."""
        with self._lock:
            if len(self._buffer) >= self.capacity:
                self.dropped += 1
                return
            self._buffer.append(event)

    def flush(self) -> int:
        """Write what is buffered in one transaction; how many records were written."""
        with self._lock:
            events, self._buffer = self._buffer, []
            dropped, self.dropped = self.dropped, 0
        if dropped:
            log.warning("audit: %d key-use records dropped (buffer full)", dropped)
        if not events:
            return 0
        try:
            with self.sessions() as session, session.begin():
                audit.record_all(session, events)
        except Exception:
            log.warning("audit: writing %d key-use records failed", len(events), exc_info=True)
            with self._lock:  # kept for the next try, as far as the buffer holds them
                room = self.capacity - len(self._buffer)
                self.dropped += max(0, len(events) - room)
                self._buffer[:0] = events[:room]
            return 0
        return len(events)

    def purge(self) -> int:
        """Delete events past their retention; how many were deleted."""
        with self.sessions() as session, session.begin():
            return audit.purge(session, self.clock(), self.retention_days)

    def start(self) -> None:
        """Write and purge in the background until ``stop``; off when the interval is 0."""
        if self.flush_interval > 0:
            self._thread = threading.Thread(target=self._run, name="audit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write whatever is still buffered."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self.flush_interval):
            self.flush()
            if time.monotonic() - self._purged_at >= PURGE_EVERY:
                self._purged_at = time.monotonic()
                try:
                    deleted = self.purge()
                except Exception:
                    log.warning("audit: purge failed", exc_info=True)
                else:
                    if deleted:
                        log.info("audit: purged %d events past retention", deleted)


class KeyUseMiddleware:
    """Record each request that presented a key, or was refused one, with its status."""

    def __init__(self, app: ASGIApp, recorder: Callable[[], KeyUseRecorder | None]) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        use = KeyUse()
        token = _current.set(use)
        status = 0  # no answer sent: the request was cancelled (its client went away)

        async def watched_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            status = status or 500  # escaped every handler: answered 500 further out
            raise
        finally:
            _current.reset(token)
            recorder = self.recorder()
            if recorder is not None and (use.key_id is not None or status == 401):
                self._record(recorder, scope, use, status)

    def _record(self, recorder: KeyUseRecorder, scope: Scope, use: KeyUse, status: int) -> None:
        # The route a request matched is in its scope once routed (FastAPI sets it).
        route = getattr(scope.get("route"), "path", "?")
        refused = status == 401
        recorder.add(
            Event(
                system_id=use.system_id,
                key_id=use.key_id,
                action=AuditAction.key_refused if refused else AuditAction.key_use,
                target_kind=AuditTarget.route,
                target_code=f"{scope['method']} {route}",
                status=status,
                occurred_at=recorder.clock(),
            )
        )
