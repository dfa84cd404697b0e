"""Configuration from ``PULSE_*`` environment variables."""

from enum import StrEnum
from functools import lru_cache

from limits import parse_many
from pydantic import AnyHttpUrl, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MetricsAccess(StrEnum):
    """Who may read ``/metrics``."""

    off = "off"
    key = "key"
    open = "open"


class Settings(BaseSettings):
    """Process configuration; every field is read from ``PULSE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PULSE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///pulse.db",
        description="SQLAlchemy URL; SQLite file pulse.db in the working directory by default.",
    )
    key_secret: str | None = Field(
        default=None,
        description=(
            "Secret that keys the hash of API keys. When unset, a random secret generated "
            "by the first migration and kept in the database is used."
        ),
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, description="Largest request body accepted, in bytes."
    )
    body_check_bytes: int = Field(
        default=512 * 1024,
        ge=0,
        description=(
            "Request bodies larger than this, in bytes, are parsed and validated in a process "
            "of its own, so that the event loop keeps answering other requests meanwhile."
        ),
    )
    body_check_workers: int = Field(
        default=1,
        ge=0,
        description=(
            "Processes per server worker that parse and validate large request bodies; 0 "
            "does it in a worker thread, where it may hold up other requests for a while."
        ),
    )
    publish_interval: float = Field(
        default=60.0,
        ge=0,
        description=(
            "Seconds between the service's own checks for closed pulses whose results must "
            "be computed (it also looks as soon as a pulse closes or a change reaches a "
            "closed pulse). 0 turns the background publisher off: results are then computed "
            "by the first read, or by `pulse publish`."
        ),
    )
    rate_limit: str = Field(
        default="1000/second;10000/minute",
        description=(
            "Requests each API key may make, as `limits` strings joined by ';' (e.g. "
            "`50/second;1000/minute`), counted over a moving window. Empty: no limit."
        ),
    )
    auth_failure_limit: str = Field(
        default="20/minute",
        description=(
            "Failed authentications (missing, unknown, expired or revoked key) each client "
            "address may make; past it, even a valid key from that address gets 429 until the "
            "window passes. Empty: no limit."
        ),
    )
    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis URL (e.g. `redis://redis:6379/0`) for rate-limit counters shared by every "
            "worker and replica. When unset, each process counts in its own memory."
        ),
    )
    rate_limit_prefix: str = Field(
        default="pulse",
        min_length=1,
        description="Namespace prefix of the rate-limit counters (Redis keys start with it).",
    )

    @field_validator("rate_limit", "auth_failure_limit")
    @classmethod
    def _limits_parse(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # raises ValueError on a malformed limit
        return value

    public_url: AnyHttpUrl | None = Field(
        default=None,
        description=(
            "Scheme, host and optional path prefix under which clients reach the service "
            "(e.g. `https://pulse.example.nhs.uk`); the base of every `next` and `Link` URL. "
            "The Host header is never used. When unset, links use the scheme of the "
            "connection and the address the server is bound to. An `https` URL also turns "
            "on Strict-Transport-Security."
        ),
    )
    trusted_proxies: str = Field(
        default="",
        description=(
            "Comma-separated addresses or networks (CIDR) of reverse proxies whose "
            "X-Forwarded-For and X-Forwarded-Proto headers are believed; `*` trusts every "
            "peer. Empty (the default): the headers are ignored."
        ),
    )
    metrics: MetricsAccess = Field(
        default=MetricsAccess.key,
        description=(
            "`/metrics` (Prometheus, service-wide counts per route): `key` needs an admin "
            "key, `open` needs none, `off` removes it."
        ),
    )
    docs: bool = Field(
        default=True,
        description=(
            "Serve the Swagger UI (`/docs`) and ReDoc (`/redoc`) pages, with their assets "
            "from the service itself. `/openapi.json` is served either way."
        ),
    )

    @field_validator("public_url")
    @classmethod
    def _base_only(cls, url: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if url is not None and (url.query or url.fragment or url.username):
            raise ValueError("must be a scheme, host and path, without query, fragment or user")
        return url

    def public_base(self) -> str | None:
        """PULSE_PUBLIC_URL without its trailing slash; None when unset."""
        return None if self.public_url is None else str(self.public_url).rstrip("/")

    max_in_flight: int = Field(
        default=16,
        ge=1,
        description=(
            "Requests one worker process works on at once; past it, a request is answered "
            "503 `overloaded` at once rather than queued. The worker's thread pool has as "
            "many threads, and its database pool this many connections plus two (the "
            "background publisher's and a spare), so no request ever waits for a thread "
            "while holding a connection."
        ),
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds a request may take before it is answered 503 `timeout` (with "
            "`Retry-After`); its work, if stuck in the database, still holds its place "
            "until the database answers."
        ),
    )
    db_pool_size: int | None = Field(
        default=None,
        ge=1,
        description="Database connections per worker; `max_in_flight` + 2 when unset.",
    )
    db_pool_timeout: float = Field(
        default=2.0,
        gt=0,
        description="Seconds a request waits for a pooled connection before a 503.",
    )
    db_connect_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Seconds to open a connection to PostgreSQL before giving up.",
    )
    db_statement_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Longest statement of a request, in seconds (PostgreSQL's `statement_timeout`; "
            "SQLite waits up to 30 s for its write lock). The background publisher has no "
            "such limit."
        ),
    )
    body_read_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Longest wait, in seconds, for the next part of a request body; a client that "
            "trickles its body slower is answered 408."
        ),
    )
    header_read_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Longest time, in seconds, `pulse serve` waits for a request's headers (from "
            "their first byte, or from the connection opening); slower is answered 408 and "
            "the connection closed."
        ),
    )
    shutdown_timeout: int = Field(
        default=8,
        ge=1,
        description=(
            "Seconds `pulse serve` gives requests in flight to finish after SIGTERM before "
            "it exits anyway."
        ),
    )

    audit_retention_days: int = Field(
        default=400,
        ge=1,
        description=(
            "Days the audit trail keeps an event (a year of pulses and its review, with a "
            "month to spare); older events are purged by the service's key-use recorder, "
            "hourly."
        ),
    )
    audit_flush_interval: float = Field(
        default=1.0,
        ge=0,
        description=(
            "Seconds between writes of the key-use records buffered in memory (at most this "
            "long of them is lost if the process is killed). 0 turns the recorder's thread "
            "off: they are then written at shutdown, or when `flush()` is called."
        ),
    )
    audit_buffer_size: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Key-use records one worker holds before writing them; past it, while the "
            "database cannot take them, the newest are dropped and the drop is logged."
        ),
    )


@lru_cache
def get_settings() -> Settings:
    """The process settings, read once."""
    return Settings()
