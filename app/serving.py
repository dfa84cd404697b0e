"""The HTTP protocol `pulse serve` runs: uvicorn's h11 one, with a deadline for headers.

uvicorn times out an idle keep-alive connection, but not one whose request head arrives a
byte at a time (or never): such clients could hold every connection the process can open
(a "slowloris"). Its h11 protocol is kept and given that one deadline: a request head
that is not whole within ``seconds`` of its first byte (or of the connection opening) is
answered 408 and the connection closed. The body has its own deadline, in the app
(``PULSE_BODY_READ_TIMEOUT``).
"""

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import Settings

PROBLEM = json.dumps(
    {
        "type": "/problems/request-timeout",
        "title": "Request timeout",
        "status": 408,
        "detail": "The request's headers did not arrive in time.",
    }
).encode()
ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
    b"connection: close\r\ncontent-length: " + str(len(PROBLEM)).encode() + b"\r\n\r\n" + PROBLEM
)


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head takes too long."""

    # PULSE_HEADER_READ_TIMEOUT, read once per process (uvicorn makes one per connection).
    seconds: float | None = None
    deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head():
            self._arm()
        super().data_received(data)
        if not self._awaiting_head():
            self._disarm()

    def _awaiting_head(self) -> bool:
        # IDLE: no whole request head yet (h11 returns to it after each request).
        return bool(self.conn.their_state is h11.IDLE)

    def _arm(self) -> None:
        if self.deadline is None:
            if HeaderDeadlineProtocol.seconds is None:
                HeaderDeadlineProtocol.seconds = Settings().header_read_timeout
            self.deadline = self.loop.call_later(HeaderDeadlineProtocol.seconds, self._too_slow)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _too_slow(self) -> None:
        self.deadline = None
        if self._awaiting_head() and not self.transport.is_closing():
            # Written raw: h11 lets a server answer only a request it has read.
            self.transport.write(ANSWER)
            self.transport.close()
