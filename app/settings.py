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


@lru_cache
def get_settings() -> Settings:
    """The process settings, read once."""
    return Settings()
