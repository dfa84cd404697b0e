"""Systems and their API keys."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import DISPLAY_PREFIX_LENGTH, hash_key, new_key
from app.errors import Conflict, NotFound, ValidationFailed, field_error, shown
from app.models import ApiKey, System
from app.services.pagination import Slice, cursor_datetime, keyset_page
from app.vocab import Scope


def create_system(
    session: Session, slug: str, name: str, now: datetime, min_group_size: int = 5
) -> System:
    """A new system (tenant); 409 when the slug is taken."""
    if session.scalar(select(System.id).where(System.slug == slug)) is not None:
        raise Conflict(f"A system with slug '{slug}' already exists.")
    system = System(
        slug=slug,
        name=name,
        min_group_size=min_group_size,
        adoption_months=12,
        created_at=now,
        updated_at=now,
    )
    session.add(system)
    session.flush()
    return system


def get_system_by_slug(session: Session, slug: str) -> System:
    """The system with ``slug``, or 404."""
    system = session.scalar(select(System).where(System.slug == slug))
    if system is None:
        raise NotFound(f"No system with slug '{slug}'.")
    return system


def create_key(
    session: Session,
    system_id: int,
    secret: str,
    scopes: list[Scope],
    now: datetime,
    name: str | None = None,
    expires_at: datetime | None = None,
    client: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key for the system and its plaintext, which is never stored."""
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed(
            "The key would be expired already.",
            errors=[field_error("/expires_at", "must be in the future")],
        )
    plaintext = new_key()
    api_key = ApiKey(
        id=uuid.uuid4(),
        system_id=system_id,
        name=name,
        client=client,
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
        secret_hash=hash_key(plaintext, secret),
        scopes=sorted({Scope(s).value for s in scopes}),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(api_key)
    session.flush()
    return api_key, plaintext


def list_keys(session: Session, system_id: int, cursor: str | None, limit: int) -> Slice[ApiKey]:
    """A page of the system's keys (never their secrets), oldest first."""
    stmt = select(ApiKey).where(ApiKey.system_id == system_id)
    return keyset_page(
        session,
        stmt,
        [ApiKey.created_at, ApiKey.id],
        cursor,
        limit,
        parse=[cursor_datetime, uuid.UUID],
    )


def revoke_key(session: Session, system_id: int, key_id: uuid.UUID | None, now: datetime) -> ApiKey:
    """Revoke a key of the system; revoking a revoked key changes nothing."""
    api_key = None
    if key_id is not None:
        api_key = session.scalar(
            select(ApiKey).where(ApiKey.system_id == system_id, ApiKey.id == key_id)
        )
    if api_key is None:
        raise NotFound(f"No API key with id '{shown(key_id)}' in this system.")
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        session.flush()
    return api_key
