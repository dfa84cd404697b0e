"""Liveness, readiness and metrics."""

from pathlib import Path

from fastapi.testclient import TestClient

from app.db import make_engine
from app.main import create_app
from app.settings import Settings
from tests.api.conftest import Tenant
from tests.builders import assert_problem


def test_healthz_says_the_process_is_alive(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_on_a_migrated_database(client: TestClient) -> None:
    assert client.get("/readyz").json() == {"status": "ok"}


def test_readyz_is_unavailable_before_the_migrations_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(url)
    with TestClient(create_app(Settings(database_url=url), engine=engine)) as client:
        problem = assert_problem(client.get("/readyz"), 503)
    engine.dispose()
    assert "pulse db upgrade" in problem["detail"]


def test_readyz_is_unavailable_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'pulse.db'}"
    with TestClient(create_app(Settings(database_url=url))) as client:
        problem = assert_problem(client.get("/readyz"), 503)
    assert "database" in problem["detail"]


def test_metrics_count_requests_and_latency_by_route(client: TestClient, tenant: Tenant) -> None:
    client.get("/v1/places/nope", headers=tenant.admin)
    client.get("/v1/places/nope", headers=tenant.admin)
    text = client.get("/metrics", headers=tenant.admin).text
    assert (
        'pulse_http_requests_total{handler="/v1/places/{code}",method="GET",status="404"} 2.0'
        in text
    )
    assert "pulse_http_request_duration_seconds_bucket" in text
