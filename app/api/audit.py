"""The audit trail: listed to admins; admin actions recorded by the routes that make them."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.api.deps import (
    DEFAULT_LIMIT,
    AdminDep,
    CallerDep,
    Cursor,
    Limit,
    NowDep,
    SessionDep,
    page,
    problems,
)
from app.auth import Caller
from app.schemas.audit import AuditEventRead
from app.schemas.common import Page, UtcDatetime
from app.services import audit
from app.services.audit import Event
from app.vocab import AuditAction, AuditTarget

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])


@dataclass(frozen=True, slots=True)
class Audit:
    """Records a request's admin actions in its own transaction: kept if, and only if, it is."""

    session: Session
    caller: Caller
    now: datetime
    status: int

    def record(
        self,
        action: AuditAction,
        kind: AuditTarget,
        code: object,
        changes: BaseModel | None = None,
        **detail: Any,
    ) -> None:
        """Record ``action`` on the ``kind`` named ``code``, with the fields ``changes`` sets.

        Only names of fields are kept, never their values; ``detail`` holds counts.
        """
        if changes is not None:
            detail["fields"] = sorted(changes.model_fields_set)
        event = Event(
            system_id=self.caller.system_id,
            key_id=self.caller.key_id,  # type: ignore[arg-type]
            action=action,
            target_kind=kind,
            target_code=str(code),
            status=self.status,
            occurred_at=self.now,
            detail=detail or None,
        )
        audit.record(self.session, event)


async def get_audit(request: Request, caller: CallerDep, session: SessionDep, now: NowDep) -> Audit:
    """The request's recorder of admin actions, with the status its route answers on success."""
    route = request.scope.get("route")
    return Audit(session, caller, now, getattr(route, "status_code", None) or 200)


AuditDep = Annotated[Audit, Depends(get_audit)]


@router.get(
    "",
    response_model=Page[AuditEventRead],
    responses=problems(400, 401, 403),
    operation_id="listAuditEvents",
)
def list_audit_events(
    request: Request,
    caller: AdminDep,
    session: SessionDep,
    key_id: Annotated[uuid.UUID | None, Query(description="Only this key's events.")] = None,
    action: Annotated[AuditAction | None, Query(description="Only this action.")] = None,
    target_kind: Annotated[
        AuditTarget | None, Query(description="Only events on this kind of target.")
    ] = None,
    target_code: Annotated[
        str | None, Query(max_length=128, description="Only events on this target.")
    ] = None,
    occurred_from: Annotated[
        UtcDatetime | None, Query(description="Only events at or after this instant.")
    ] = None,
    occurred_to: Annotated[
        UtcDatetime | None, Query(description="Only events before this instant.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The system's audit trail, oldest first: admin actions and uses of its keys."""
    chunk = audit.list_events(
        session,
        caller.system_id,
        cursor,
        limit,
        key_id=key_id,
        action=action,
        target_kind=target_kind,
        target_code=target_code,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    return page(request, chunk, chunk.rows)
