"""API keys: generation, keyed hashing, and the ``Caller`` dependency."""

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from fastapi.security import HTTPBasic, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Forbidden, Unauthenticated
from app.models import ApiKey, InstanceSecret, System
from app.settings import Settings
from app.usage import key_found
from app.vocab import Scope

KEY_PREFIX = "pulse_"
DISPLAY_PREFIX_LENGTH = 12


def new_key() -> str:
    """A fresh random key: 256 bits of entropy behind a recognisable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str, secret: str) -> str:
    """The keyed hash (HMAC-SHA256) under which a key is stored and looked up."""
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def key_secret(session: Session, settings: Settings) -> str:
    """The secret that keys key hashes: configured, or else the database's own."""
    if settings.key_secret:
        return settings.key_secret
    secret = session.scalar(select(InstanceSecret.secret).order_by(InstanceSecret.id).limit(1))
    if secret is None:
        raise RuntimeError("the database has no instance secret; run `pulse db upgrade`")
    return secret


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a system, the scopes of the key used and the client it belongs to."""

    system: System
    key_id: object
    scopes: frozenset[str]
    client: str | None = None

    @property
    def system_id(self) -> int:
        return self.system.id

    @property
    def writer(self) -> str:
        """Whom what this key stores is attributed to: its client, or else the key itself."""
        # Client names match the code pattern, which has no ':', so the two never meet.
        return self.client if self.client is not None else f"key:{self.key_id}"

    def has(self, scope: Scope) -> bool:
        """Whether the key grants ``scope``; ``admin`` grants every scope."""
        return Scope.admin.value in self.scopes or scope.value in self.scopes

    def require(self, *any_of: Scope) -> None:
        """Raise 403 unless the key grants one of ``any_of``."""
        if not any(self.has(scope) for scope in any_of):
            wanted = " or ".join(scope.value for scope in any_of)
            raise Forbidden(f"This API key lacks the scope this request needs ({wanted}).")


class _DeclaredBasic(HTTPBasic):
    """HTTP Basic, declared in the OpenAPI; the header itself is parsed by ``presented_key``."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


class _DeclaredBearer(HTTPBearer):
    """HTTP Bearer, declared in the OpenAPI; the header itself is parsed by ``presented_key``."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


bearer_scheme = _DeclaredBearer(
    scheme_name="bearer", auto_error=False, description="`Authorization: Bearer <api key>`."
)
basic_scheme = _DeclaredBasic(
    scheme_name="basic",
    auto_error=False,
    description="For BI tools that cannot set a Bearer header: any user name, the key as password.",
)


def presented_key(authorization: str | None) -> str:
    """The key in an ``Authorization`` header (Bearer, or Basic with the key as password)."""
    if not authorization:
        raise Unauthenticated("Send an API key: `Authorization: Bearer <key>`.")
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("The Basic credentials are not valid base64.") from None
        _user, sep, password = decoded.partition(":")
        if sep and password:
            return password
    raise Unauthenticated(
        "Use `Authorization: Bearer <key>` or Basic auth with the key as password."
    )


def authenticate(session: Session, secret: str, key: str, now: datetime) -> Caller:
    """The caller behind ``key``, or 401 when it is unknown, revoked or expired."""
    if len(key) > 200:
        raise Unauthenticated("The API key is not valid.")
    api_key = session.scalar(select(ApiKey).where(ApiKey.secret_hash == hash_key(key, secret)))
    if api_key is not None:
        key_found(api_key.system_id, api_key.id)  # for the audit trail, whatever follows
    if api_key is None or api_key.revoked_at is not None:
        raise Unauthenticated("The API key is not valid.")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise Unauthenticated("The API key has expired.")
    system = session.get_one(System, api_key.system_id)
    return Caller(
        system=system, key_id=api_key.id, scopes=frozenset(api_key.scopes), client=api_key.client
    )
