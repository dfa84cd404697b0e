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


@lru_cache
def get_settings() -> Settings:
    """The process settings, read once."""
    return Settings()
