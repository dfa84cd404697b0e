"""The audit trail."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.common import ResponseModel
from app.vocab import AuditAction, AuditTarget


class AuditEventRead(ResponseModel):
    """An admin action or a use of a key; never scores, answers or secrets."""

    id: int = Field(
        ge=1, le=2**63 - 1, description="Identifier of the event (its order among events at once)."
    )
    key_id: uuid.UUID | None = Field(
        description="The key that acted or was presented; null for a key that matched none."
    )
    action: AuditAction = Field(
        description="`<what>.<verb>` for an admin action; `key.use` or `key.refused` for a request."
    )
    target_kind: AuditTarget = Field(description="What was acted on.")
    target_code: str = Field(
        max_length=128,
        description="Its code, key, id or slug; for a request, the method and route template.",
    )
    status: int = Field(
        ge=0, le=599, description="The answer's status; 0 when none was sent (client gone)."
    )
    occurred_at: datetime = Field(description="When it happened (UTC).")
    detail: dict[str, Any] | None = Field(
        description="For an update, the names of the fields it set (never their values); for "
        "a late upload, how many responses the request stored."
    )
