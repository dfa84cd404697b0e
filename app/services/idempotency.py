"""Idempotency-Key for response batches (IETF draft-ietf-httpapi-idempotency-key-header).

The first request under a key stores its answer in the same transaction as its data, so
the two are kept or lost together. A retry with the same key and body gets the stored
answer; the same key with another body is refused (422); a retry while the first is still
being processed is refused (409) on PostgreSQL, where a transaction-scoped advisory lock
marks the key as in use. On SQLite writers run one at a time, so a retry simply waits for
the first to finish and then gets its answer.

Each portal (``Caller.writer``) has keys of its own: a record answers only the portal that
made it, since a replay that answers a right guess at another portal's body and refuses a
wrong one would be an oracle for the scores in it (DESIGN section 3, rule 6). The lock is
taken per system and key alone: two portals that chose the same key at the same moment
only wait for each other, and learn nothing of the other's body.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, ValidationFailed
from app.models import IdempotencyRecord

KEEP_FOR = timedelta(hours=24)


def body_fingerprint(body: Any) -> str:
    """SHA-256 of a JSON body, insensitive to key order and white space."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def lock_id(system_id: int, key: str) -> int:
    """The 64-bit advisory lock id of an idempotency key."""
    digest = hashlib.sha256(f"{system_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class Replay:
    """A stored answer to send again."""

    status_code: int
    body: dict[str, Any]


def claim(
    session: Session, system_id: int, writer: str, key: str, fingerprint: str, now: datetime
) -> Replay | None:
    """Take ``writer``'s ``key`` for this request, or return the answer stored under it."""
    if session.get_bind().dialect.name == "postgresql":
        locked = session.scalar(select(func.pg_try_advisory_xact_lock(lock_id(system_id, key))))
        if not locked:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry later.",
                headers={"Retry-After": "2"},
            )
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.system_id == system_id,
            IdempotencyRecord.stored_by == writer,
            IdempotencyRecord.key == key,
        )
    )
    if record is not None and record.created_at > now - KEEP_FOR:
        if record.fingerprint != fingerprint:
            raise ValidationFailed(
                "This Idempotency-Key was used for a different request body.",
                errors=[{"pointer": "", "detail": "the body differs from the first request"}],
            )
        return Replay(record.status_code, record.body)
    # Records past their 24 hours are dropped, this one included.
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.system_id == system_id, IdempotencyRecord.created_at <= now - KEEP_FOR
        )
    )
    return None


def remember(
    session: Session,
    system_id: int,
    writer: str,
    key: str,
    fingerprint: str,
    status_code: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """Store the answer to the request that claimed ``writer``'s ``key``."""
    session.add(
        IdempotencyRecord(
            system_id=system_id,
            stored_by=writer,
            key=key,
            fingerprint=fingerprint,
            status_code=status_code,
            body=body,
            created_at=now,
        )
    )
    session.flush()
