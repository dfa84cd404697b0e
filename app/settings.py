"""Configuration from ``PULSE_*`` environment variables."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
            "Longest statement of a request, in seconds (PostgreSQL `statement_timeout`; on "
            "SQLite, the longest wait for the write lock). The background publisher has no "
            "such limit."
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
