"""Responses: posted by portals, singly or in batches; read back as metadata only."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import JSONResponse, Response

from app.api.audit import Audit, AuditDep
from app.api.bodies import BodyRoute, decode, read_body
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
    scoped,
)
from app.auth import Caller
from app.errors import BadRequest, ErrorList
from app.schemas.common import Page
from app.schemas.responses import BatchResult, ResponseCreate, ResponseRead, parse_batch
from app.services import idempotency, structure
from app.services import responses as service
from app.services.responses import Problem
from app.vocab import AuditAction, AuditTarget, Scope

router = APIRouter(prefix="/v1/responses", tags=["responses"], route_class=BodyRoute)

WriterDep = Annotated[Caller, Depends(scoped(Scope.responses_write))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=257,
        # 1 to 255 printable ASCII characters but quote and backslash, bare or quoted.
        pattern=r'^("[!#-\[\]-~]{1,255}"|[!#-\[\]-~]{1,255})$',
        description="A unique key per batch (e.g. a UUID); a retry with the same key and body "
        "gets the first answer. Kept for 24 hours.",
    ),
]


def _item_pointer(problem: Problem) -> str:
    return f"/{problem.field}" if problem.field else ""


def _batch_pointer(problem: Problem) -> str:
    return f"/responses/{problem.index}" + (f"/{problem.field}" if problem.field else "")


@router.post(
    "",
    response_model=ResponseRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "model": ResponseRead,
            "description": "Already stored under this external_id by this key's client.",
        },
        **problems(400, 401, 403, 409, 413, 422),
    },
    operation_id="createResponse",
)
def create_response(
    body: ResponseCreate, caller: WriterDep, session: SessionDep, now: NowDep, audit: AuditDep
) -> Any:
    """Store one response. Posting the same response again (same `external_id`) is safe."""
    stored = service.ingest(
        session,
        caller.system_id,
        [(0, body)],
        now,
        caller.has(Scope.admin),
        _item_pointer,
        writer=caller.writer,
    )
    _late_upload(audit, stored)
    if stored.ids:
        return service.receipt(session, caller.system_id, stored.ids[0])
    assert body.external_id is not None
    again = service.receipt_by_external_id(session, caller.system_id, body.external_id)
    return JSONResponse(ResponseRead.model_validate(again).model_dump(mode="json"), status_code=200)


@dataclass(frozen=True)
class BatchBody:
    """A batch body as read: its fingerprint, its valid items and the errors of the rest."""

    fingerprint: str
    items: list[tuple[int, ResponseCreate]]
    invalid: ErrorList


def read_batch(raw: bytes) -> BatchBody:
    """Parse and validate a batch body."""
    body = decode(raw)
    items, invalid = parse_batch(body)
    return BatchBody(idempotency.body_fingerprint(body), items, invalid)


async def batch_body(request: Request) -> BatchBody:
    """The batch body, read away from the event loop when it is large."""
    return await read_body(request, read_batch, await request.body())


BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResponseBatch"}}},
    }
}


@router.post(
    "/batch",
    response_model=BatchResult,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": BatchResult, "description": "Every response was already stored."},
        **problems(400, 401, 403, 409, 413, 422),
    },
    openapi_extra=BATCH_BODY,
    operation_id="createResponseBatch",
)
def create_batch(
    caller: WriterDep,
    body: Annotated[BatchBody, Depends(batch_body)],
    session: SessionDep,
    now: NowDep,
    audit: AuditDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Store up to 5,000 responses, all or none; a 422 points at every bad item."""
    key = _parse_idempotency_key(idempotency_key)
    fingerprint = body.fingerprint
    if key is not None:
        replay = idempotency.claim(session, caller.system_id, caller.writer, key, fingerprint, now)
        if replay is not None:
            return JSONResponse(replay.body, status_code=replay.status_code)
    stored = service.ingest(
        session,
        caller.system_id,
        body.items,
        now,
        caller.has(Scope.admin),
        _batch_pointer,
        invalid=body.invalid,
        writer=caller.writer,
    )
    _late_upload(audit, stored)
    result = {"created": stored.created, "already_stored": stored.already_stored}
    code = status.HTTP_201_CREATED if stored.created else status.HTTP_200_OK
    if key is not None:
        idempotency.remember(
            session, caller.system_id, caller.writer, key, fingerprint, code, result, now
        )
    return JSONResponse(result, status_code=code)


def _late_upload(audit: Audit, stored: service.Stored) -> None:
    """Record the responses stored into closed pulses: they change what is published."""
    for pulse in stored.late:
        audit.record(AuditAction.late_upload, AuditTarget.pulse, pulse, responses=stored.created)


def _parse_idempotency_key(raw: str | None) -> str | None:
    """The key, from a Structured Field string (`"..."`) or a bare token."""
    if raw is None:
        return None
    key = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if not key or len(key) > 255 or not all(0x20 < ord(c) < 0x7F and c not in '"\\' for c in key):
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            errors=[{"parameter": "Idempotency-Key", "detail": "not a valid key"}],
        )
    return key


@router.get(
    "",
    response_model=Page[ResponseRead],
    responses=problems(400, 401, 403, 404),
    operation_id="listResponses",
)
def list_responses(
    request: Request,
    caller: WriterDep,
    session: SessionDep,
    pulse: Annotated[str | None, Query(max_length=64, description="Only this pulse.")] = None,
    team: Annotated[str | None, Query(max_length=64, description="Only this team.")] = None,
    external_id: Annotated[
        str | None, Query(max_length=128, description="Only this external_id.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """What this key's client stored (admin: all), in arrival order, to reconcile. No scores."""
    structure.check_filters(session, caller.system_id, pulse=pulse, team=team)
    chunk, items = service.list_responses(
        session,
        caller.system_id,
        pulse,
        team,
        external_id,
        cursor,
        limit,
        stored_by=None if caller.has(Scope.admin) else caller.writer,
    )
    return page(request, chunk, items)


@router.delete(
    "/{response_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(401, 403, 404),
    operation_id="eraseResponse",
)
def erase_response(
    response_id: IdPath, caller: AdminDep, session: SessionDep, audit: AuditDep
) -> Response:
    """Erase one response for good."""
    try:
        parsed: uuid.UUID | None = uuid.UUID(response_id)
    except ValueError:
        parsed = None
    service.erase(session, caller.system_id, parsed)
    audit.record(AuditAction.response_erase, AuditTarget.response, parsed)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
