"""What a database error says about the database: read-only, full, or not answering.

Errors reach the API wrapped by SQLAlchemy (``DBAPIError.orig``) or, from the COPY path that
talks to psycopg directly, bare; both are read here by SQLSTATE (PostgreSQL) or result code
(SQLite), never by message text.
"""

import sqlite3
import time
from enum import StrEnum

import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


class Fault(StrEnum):
    """A state of the database that a request cannot fix, only wait out."""

    read_only = "read-only"
    full = "full"
    unavailable = "unavailable"


# SQLSTATE classes and codes (PostgreSQL appendix A) that mean "retry later".
_PG_READ_ONLY = {"25006"}
_PG_FULL = {"53100"}
_PG_RETRY_CLASSES = {"08", "53", "57", "40"}  # connection, resources, operator, rollback
_PG_RETRY_CODES = {"55P03", "55006"}  # lock not available, object in use
# SQLite primary result codes (the low byte of an extended code).
_SQLITE_READONLY, _SQLITE_FULL = 8, 13
_SQLITE_RETRY = {5, 6, 10, 14, 15}  # busy, locked, I/O error, cannot open, protocol


def classify(exc: BaseException) -> Fault | None:
    """The fault ``exc`` reports, or None when it is not the database's state."""
    if isinstance(exc, PoolTimeout):
        return Fault.unavailable
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, psycopg.Error):
        state = orig.sqlstate or ""
        if state in _PG_READ_ONLY:
            return Fault.read_only
        if state in _PG_FULL:
            return Fault.full
        if state[:2] in _PG_RETRY_CLASSES or state in _PG_RETRY_CODES:
            return Fault.unavailable
        # Other operational errors (a connection lost says no SQLSTATE at all) pass too.
        return Fault.unavailable if isinstance(orig, psycopg.OperationalError) else None
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is None:
            return Fault.unavailable if isinstance(orig, sqlite3.OperationalError) else None
        if code & 0xFF == _SQLITE_READONLY:
            return Fault.read_only
        if code & 0xFF == _SQLITE_FULL:
            return Fault.full
        return Fault.unavailable if code & 0xFF in _SQLITE_RETRY else None
    # Any other driver: the DB-API's OperationalError is the database's state, not the input.
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return Fault.unavailable
    return None


class FaultMemory:
    """The last read-only or full state a request met, until a write succeeds or it ages."""

    def __init__(self, keep_for: float = 60.0) -> None:
        self.keep_for = keep_for
        self._seen: tuple[Fault, float] | None = None

    def note(self, fault: Fault) -> None:
        """Remember that a request met ``fault``."""
        if fault is not Fault.unavailable:  # that one the readiness check sees for itself
            self._seen = (fault, time.monotonic())

    def clear(self) -> None:
        """Forget it: a write has just been stored."""
        self._seen = None

    def current(self) -> Fault | None:
        """The fault met lately, if any."""
        if self._seen is None or time.monotonic() - self._seen[1] > self.keep_for:
            return None
        return self._seen[0]
