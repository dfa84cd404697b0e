"""The audit trail: admin actions and uses of keys, listed per system, purged when old.

An admin action is staged in the session of the change it records, so it is committed
with the change or not at all. Uses of keys come in batches from ``app.usage``.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.models import AuditEvent
from app.services.pagination import Slice, cursor_datetime, cursor_int, keyset_page
from app.vocab import AuditAction, AuditTarget

# Rows deleted per statement by the purge, so that no one statement holds locks for long.
PURGE_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class Event:
    """An audit event to store; ``detail`` never holds scores, answers or secrets."""

    system_id: int | None
    key_id: uuid.UUID | None
    action: AuditAction
    target_kind: AuditTarget
    target_code: str
    status: int
    occurred_at: datetime
    detail: dict[str, Any] | None = None


def record(session: Session, event: Event) -> None:
    """Stage ``event`` in ``session``: it is stored if and when the session commits."""
    session.add(AuditEvent(**_values(event)))


def record_all(session: Session, events: Sequence[Event]) -> None:
    """Store ``events`` in one statement (the key uses of a batch)."""
    if events:
        session.execute(insert(AuditEvent), [_values(e) for e in events])


def _values(event: Event) -> dict[str, Any]:
    return {
        "system_id": event.system_id,
        "key_id": event.key_id,
        "action": event.action.value,
        "target_kind": event.target_kind.value,
        "target_code": event.target_code[:128],
        "status": event.status,
        "occurred_at": event.occurred_at,
        "detail": event.detail,
    }


def list_events(
    session: Session,
    system_id: int,
    cursor: str | None,
    limit: int,
    *,
    key_id: uuid.UUID | None = None,
    action: AuditAction | None = None,
    target_kind: AuditTarget | None = None,
    target_code: str | None = None,
    occurred_from: datetime | None = None,
    occurred_to: datetime | None = None,
) -> Slice[AuditEvent]:
    """A page of the system's events, oldest first, filtered by whichever filters are given."""
    stmt = select(AuditEvent).where(AuditEvent.system_id == system_id)
    if key_id is not None:
        stmt = stmt.where(AuditEvent.key_id == key_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if target_kind is not None:
        stmt = stmt.where(AuditEvent.target_kind == target_kind)
    if target_code is not None:
        stmt = stmt.where(AuditEvent.target_code == target_code)
    if occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at < occurred_to)
    return keyset_page(
        session,
        stmt,
        [AuditEvent.occurred_at, AuditEvent.id],
        cursor,
        limit,
        parse=[cursor_datetime, cursor_int],
    )


def purge(session: Session, now: datetime, retention_days: int) -> int:
    """Delete the events older than ``retention_days``; how many were deleted."""
    cutoff = now - timedelta(days=retention_days)
    deleted = 0
    while True:
        chunk = (
            select(AuditEvent.id).where(AuditEvent.occurred_at < cutoff).limit(PURGE_CHUNK)
        ).scalar_subquery()
        result = session.execute(delete(AuditEvent).where(AuditEvent.id.in_(chunk)))
        count = int(getattr(result, "rowcount", 0) or 0)
        deleted += count
        if count < PURGE_CHUNK:
            return deleted
