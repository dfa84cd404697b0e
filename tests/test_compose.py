"""docker-compose.yml runs PostgreSQL 16 and the API, migrating before the API starts.

No Docker engine runs where the tests run, so the file's structure is checked instead.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture(scope="module")
def compose(project_root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project_root / "docker-compose.yml").read_text())
    return loaded


def test_database_is_postgresql_16_with_a_volume_and_a_healthcheck(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:16")
    volume = db["volumes"][0].split(":")
    assert volume[0] in compose["volumes"] and volume[1] == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_migrations_run_before_the_api_starts(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["pulse", "db", "upgrade"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    api = compose["services"]["api"]
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["depends_on"]["db"]["condition"] == "service_healthy"


def test_api_is_built_here_and_checked_on_readyz(
    compose: dict[str, Any], project_root: Path
) -> None:
    api = compose["services"]["api"]
    assert api["build"] == "."
    assert (project_root / "Dockerfile").is_file()
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert api["command"][:2] == ["pulse", "serve"]
    assert "8000:8000" in api["ports"]


def test_api_and_migrations_share_one_postgresql_url(compose: dict[str, Any]) -> None:
    services = compose["services"]
    urls = {services[name]["environment"]["PULSE_DATABASE_URL"] for name in ("api", "migrate")}
    assert len(urls) == 1
    url = urls.pop()
    assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url


def test_dockerfile_installs_the_project_and_serves_it(project_root: Path) -> None:
    dockerfile = (project_root / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11" in dockerfile
    for needed in ["COPY app", "COPY migrations", "alembic.ini", "pip install", "pulse"]:
        assert needed in dockerfile
