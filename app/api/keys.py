"""API keys of the caller's system."""

import uuid
from typing import Any

from fastapi import APIRouter, Request, status

from app.api.audit import AuditDep
from app.api.bodies import BodyRoute
from app.api.deps import (
    DEFAULT_LIMIT,
    AdminDep,
    Cursor,
    IdPath,
    Limit,
    NowDep,
    SessionDep,
    page,
    problems,
)
from app.models import ApiKey
from app.schemas.common import Page
from app.schemas.keys import KeyCreate, KeyCreated, KeyRead
from app.services import keys
from app.vocab import AuditAction, AuditTarget

router = APIRouter(prefix="/v1/keys", tags=["keys"], route_class=BodyRoute)


@router.get(
    "", response_model=Page[KeyRead], responses=problems(400, 401, 403), operation_id="listKeys"
)
def list_keys(
    request: Request,
    caller: AdminDep,
    session: SessionDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The system's API keys, oldest first; secrets are never shown."""
    chunk = keys.list_keys(session, caller.system_id, cursor, limit)
    return page(request, chunk, chunk.rows)


@router.post(
    "",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=problems(400, 401, 403, 413, 422),
    operation_id="createKey",
)
def create_key(
    body: KeyCreate,
    request: Request,
    caller: AdminDep,
    session: SessionDep,
    now: NowDep,
    audit: AuditDep,
) -> dict[str, Any]:
    """Create a key; its secret is in this answer and nowhere else, ever."""
    api_key, plaintext = keys.create_key(
        session,
        caller.system_id,
        request.app.state.key_secret,
        body.scopes,
        now,
        name=body.name,
        expires_at=body.expires_at,
        client=body.client,
    )
    audit.record(AuditAction.key_create, AuditTarget.key, api_key.id)
    return {**KeyRead.model_validate(api_key).model_dump(), "key": plaintext}


@router.post(
    "/{key_id}/revoke",
    response_model=KeyRead,
    responses=problems(401, 403, 404),
    operation_id="revokeKey",
)
def revoke_key(
    key_id: IdPath, caller: AdminDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> ApiKey:
    """Revoke a key at once; revoking a revoked key changes nothing."""
    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        parsed = None
    revoked = keys.revoke_key(session, caller.system_id, parsed, now)
    audit.record(AuditAction.key_revoke, AuditTarget.key, revoked.id)
    return revoked
