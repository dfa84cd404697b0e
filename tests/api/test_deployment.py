"""Configuration for a real deployment: links, proxies, security headers, metrics and docs."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.api.deps import get_now
from app.cli import cli
from app.main import create_app
from app.settings import Settings
from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.builders import assert_problem, bearer, make_key
from tests.conftest import Clock

Serve = Callable[..., AbstractContextManager[TestClient]]
JSON = {"Content-Type": "application/json"}
EVIL = {"Host": "evil.example"}


@pytest.fixture
def serve(
    app_settings: Settings, engine: Engine, session_factory: sessionmaker[Session], clock: Clock
) -> Serve:
    """A client of an app made with these settings, inside the test's transaction."""

    @contextmanager
    def make(
        base_url: str = "https://testserver",
        peer: tuple[str, int] = ("testclient", 50000),
        **overrides: Any,
    ) -> Iterator[TestClient]:
        app = create_app(Settings(**(app_settings.model_dump() | overrides)), engine=engine)
        app.dependency_overrides[get_now] = clock

        @app.get("/test/peer", include_in_schema=False)
        async def peer_seen(request: Request) -> dict[str, Any]:
            assert request.client is not None
            return {"host": request.client.host, "scheme": request.url.scheme}

        with TestClient(app, base_url=base_url, client=peer) as client:
            app.state.sessionmaker = session_factory
            yield client

    return make


def seed_places(client: TestClient, tenant: Tenant, count: int = 3) -> None:
    for i in range(count):
        body = {"code": f"p{i}", "name": f"Place {i}"}
        assert client.post("/v1/places", json=body, headers=tenant.admin).status_code == 201


def test_the_host_header_never_appears_in_a_next_link(client: TestClient, tenant: Tenant) -> None:
    seed_places(client, tenant)
    response = client.get("/v1/places?limit=1", headers={**tenant.admin, **EVIL})
    assert response.json()["next"].startswith("https://testserver/v1/places?limit=1&cursor=")
    assert "evil" not in response.text and "evil" not in str(response.headers)


def test_without_a_public_url_links_use_the_address_the_server_is_bound_to(
    serve: Serve, tenant: Tenant
) -> None:
    with serve(base_url="http://127.0.0.1:8123") as client:
        seed_places(client, tenant)
        body = client.get("/v1/places?limit=2", headers={**tenant.admin, **EVIL}).json()
    assert body["next"].startswith("http://127.0.0.1:8123/v1/places?limit=2&cursor=")


def test_links_are_built_on_the_public_url(serve: Serve, tenant: Tenant) -> None:
    with serve(public_url="https://pulse.example.nhs.uk/pulse/") as client:
        seed_places(client, tenant)
        first = client.get("/v1/places?limit=1", headers={**tenant.admin, **EVIL}).json()
        assert first["next"].startswith("https://pulse.example.nhs.uk/pulse/v1/places?")
        path = first["next"].removeprefix("https://pulse.example.nhs.uk/pulse")
        assert client.get(path, headers=tenant.admin).json()["data"][0]["code"] == "p1"


def test_the_feeds_link_header_is_built_on_the_public_url(
    serve: Serve, tenant: Tenant, db: Session, world: dict[str, Any]
) -> None:
    bi = bearer(make_key(db, tenant.system, Scope.feeds_read))
    with serve(public_url="https://pulse.example.nhs.uk") as client:
        response = client.get("/v1/feeds/scores?limit=2&format=ndjson", headers={**bi, **EVIL})
    assert response.status_code == 200, response.text
    assert response.headers["link"].startswith("<https://pulse.example.nhs.uk/v1/feeds/scores?")


def test_a_trailing_slash_is_not_redirected_to_the_host_header(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get("/v1/places/", headers={**tenant.admin, **EVIL})
    assert_problem(response, 404)
    assert "evil" not in response.text and "evil" not in str(response.headers)


def test_forwarded_headers_are_ignored_by_default(serve: Serve) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with serve(base_url="http://testserver", peer=("10.0.0.7", 4000)) as client:
        seen = client.get("/test/peer", headers=forwarded).json()
    assert seen == {"host": "10.0.0.7", "scheme": "http"}


@pytest.mark.parametrize(
    ("peer", "trusted"), [("10.0.0.7", True), ("10.9.9.9", True), ("192.0.2.1", False)]
)
def test_forwarded_headers_are_believed_only_from_trusted_proxies(
    serve: Serve, peer: str, trusted: bool
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    settings = {"trusted_proxies": "10.0.0.0/8, 127.0.0.1"}
    with serve(base_url="http://testserver", peer=(peer, 4000), **settings) as client:
        seen = client.get("/test/peer", headers=forwarded).json()
    assert seen == (
        {"host": "203.0.113.9", "scheme": "https"} if trusted else {"host": peer, "scheme": "http"}
    )


def test_pulse_serve_leaves_forwarded_headers_to_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    result = CliRunner().invoke(cli, ["serve"], env={"FORWARDED_ALLOW_IPS": "*"})
    assert result.exit_code == 0, result.output
    assert calls[0]["proxy_headers"] is False


def test_every_answer_says_nosniff(client: TestClient, tenant: Tenant) -> None:
    answers = [
        client.get("/healthz"),
        client.get("/v1/places", headers=tenant.admin),
        client.get("/v1/places"),
        client.get("/v2/nowhere"),
        client.post("/v1/places", content=b"x" * 1_100_000, headers={**tenant.admin, **JSON}),
    ]
    assert [a.headers["x-content-type-options"] for a in answers] == ["nosniff"] * len(answers)


def test_authenticated_answers_are_not_stored_by_caches(client: TestClient, tenant: Tenant) -> None:
    created = client.post("/v1/keys", json={"scopes": ["admin"]}, headers=tenant.admin)
    assert created.status_code == 201 and "key" in created.json()
    assert created.headers["cache-control"] == "no-store"
    assert client.get("/v1/keys", headers=tenant.admin).headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/healthz").headers


def test_feeds_keep_their_revalidated_caching(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    bi = bearer(make_key(db, tenant.system, Scope.feeds_read))
    first = client.get("/v1/feeds/scores", headers=bi)
    assert first.headers["cache-control"] == "private"
    again = client.get("/v1/feeds/scores", headers={**bi, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("public_url", "hsts"),
    [(None, False), ("http://pulse.example", False), ("https://pulse.example", True)],
)
def test_strict_transport_security_is_sent_when_the_public_url_is_https(
    serve: Serve, public_url: str | None, hsts: bool
) -> None:
    with serve(public_url=public_url) as client:
        headers = client.get("/healthz").headers
    assert ("strict-transport-security" in headers) is hsts
    if hsts:
        assert headers["strict-transport-security"] == "max-age=31536000"


def test_metrics_need_an_admin_key_by_default(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    assert_problem(client.get("/metrics"), 401)
    reader = bearer(make_key(db, tenant.system, Scope.insights_read))
    assert_problem(client.get("/metrics", headers=reader), 403)
    response = client.get("/metrics", headers=tenant.admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "pulse_http_requests_total" in response.text
    declared = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]["responses"]
    assert list(declared["200"]["content"]) == ["text/plain"]


def test_metrics_can_be_open_or_off(serve: Serve) -> None:
    with serve(metrics="open") as client:
        assert client.get("/metrics").status_code == 200
        assert "security" not in client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    with serve(metrics="off") as client:
        assert_problem(client.get("/metrics"), 404)
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_documentation_pages_load_their_assets_from_the_service(client: TestClient) -> None:
    for page, asset in [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]:
        html = client.get(page).text
        assert f'src="/static-offline-docs/{asset}"' in html
        assert "cdn" not in html and 'src="http' not in html
        script = client.get(f"/static-offline-docs/{asset}")
        assert script.status_code == 200 and len(script.content) > 100_000
    assert client.get("/static-offline-docs/swagger-ui.css").status_code == 200


def test_documentation_pages_can_be_turned_off(serve: Serve) -> None:
    with serve(docs=False) as client:
        for path in ("/docs", "/redoc", "/static-offline-docs/swagger-ui-bundle.js"):
            assert_problem(client.get(path), 404)
        assert client.get("/openapi.json").status_code == 200
