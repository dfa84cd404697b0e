"""Plain builder functions for test data."""

from datetime import UTC, datetime
from typing import Any

from httpx2 import Response
from sqlalchemy.orm import Session

from app.auth import key_secret
from app.models import System
from app.services.keys import create_key, create_system
from app.settings import Settings
from app.vocab import Scope

T0 = datetime(2026, 11, 1, tzinfo=UTC)
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def make_system(db: Session, slug: str = "north-ics", **overrides: Any) -> System:
    """A system, flushed into the test transaction."""
    return create_system(db, slug, overrides.pop("name", f"{slug} ICS"), T0, **overrides)


def make_key(db: Session, system: System, *scopes: Scope, **overrides: Any) -> str:
    """A key of ``system`` with ``scopes`` (admin by default); returns its plaintext."""
    secret = key_secret(db, Settings())
    _row, plaintext = create_key(
        db, system.id, secret, list(scopes or [Scope.admin]), T0, **overrides
    )
    db.flush()
    return plaintext


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem answer with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    return body
