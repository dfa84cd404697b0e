"""API keys."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.schemas.common import TEXT_PATTERN, RequestModel, ResponseModel, UtcDatetime
from app.vocab import CODE_MAX_LENGTH, CODE_PATTERN, Scope

Scopes = Annotated[
    list[Scope],
    Field(min_length=1, max_length=4, description="What the key may do; `admin` includes all."),
]
Client = Annotated[
    str,
    Field(min_length=1, max_length=CODE_MAX_LENGTH, pattern=CODE_PATTERN),
]
CLIENT = (
    "The portal the key belongs to (lower-case letters, digits, `.`, `_`, `-`): keys naming "
    "the same client share the responses they stored, so a new key can replace an old one. "
    "A key naming none keeps what it stores to itself."
)


class KeyCreate(RequestModel):
    """A new API key."""

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=TEXT_PATTERN,
        description="A label to recognise the key by.",
    )
    scopes: Scopes
    client: Client | None = Field(default=None, description=CLIENT, examples=["intranet-portal"])
    expires_at: UtcDatetime | None = Field(
        default=None, description="When the key stops working; it never expires if omitted."
    )


class KeyRead(ResponseModel):
    """An API key, without its secret."""

    id: uuid.UUID = Field(description="Identifier of the key.")
    name: str | None = Field(max_length=200, description="Label of the key.")
    prefix: str = Field(max_length=16, description="First characters of the key, to recognise it.")
    scopes: Scopes
    client: Client | None = Field(description=CLIENT)
    created_at: datetime = Field(description="When the key was created (UTC).")
    expires_at: datetime | None = Field(description="When the key stops working (UTC).")
    revoked_at: datetime | None = Field(description="When the key was revoked (UTC).")


class KeyCreated(KeyRead):
    """A new API key with its secret, shown this once and never again."""

    key: str = Field(max_length=200, description="The secret key. Store it now: it is not kept.")
