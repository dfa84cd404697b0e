"""Authentication, scopes and tenant isolation on every route."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.main import create_app
from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.builders import assert_problem, bearer, make_key

TEAM = {"code": "t1", "name": "Team 1", "place": "north", "host_organisation": "trust-a"}
PULSE = {"key": "2026-11", "title": "Nov", "opens_on": "2026-11-01", "closes_on": "2026-11-30"}

RESPONSE = {"pulse": "2026-11", "team": "t1", "scores": {"support": 4}, "external_id": "r-new"}
ADMIN = Scope.admin
WRITE = Scope.responses_write
READ = Scope.insights_read
FEEDS = Scope.feeds_read

# Every authenticated route: (method, path, body, the scope it needs or None for any key).
# Paths name system A's records.
ROUTES: list[tuple[str, str, dict[str, Any] | None, Scope | None]] = [
    ("GET", "/v1/system", None, None),
    ("PATCH", "/v1/system", {"name": "Renamed"}, ADMIN),
    ("GET", "/v1/places", None, None),
    ("POST", "/v1/places", {"code": "new-place", "name": "New"}, ADMIN),
    ("GET", "/v1/places/north", None, None),
    ("PATCH", "/v1/places/north", {"name": "Renamed"}, ADMIN),
    ("GET", "/v1/organisations", None, None),
    ("POST", "/v1/organisations", {"code": "new-org", "name": "New", "kind": "other"}, ADMIN),
    ("GET", "/v1/organisations/trust-a", None, None),
    ("PATCH", "/v1/organisations/trust-a", {"name": "Renamed"}, ADMIN),
    ("GET", "/v1/teams", None, None),
    ("POST", "/v1/teams", {**TEAM, "code": "new-team"}, ADMIN),
    ("GET", "/v1/teams/t1", None, None),
    ("PATCH", "/v1/teams/t1", {"headcount": 3}, ADMIN),
    ("GET", "/v1/pulses", None, None),
    ("POST", "/v1/pulses", {**PULSE, "key": "new-pulse"}, ADMIN),
    ("GET", "/v1/pulses/2026-11", None, None),
    ("PATCH", "/v1/pulses/2026-11", {"title": "Renamed"}, ADMIN),
    ("POST", "/v1/pulses/2026-11/close", None, ADMIN),
    ("GET", "/v1/keys", None, ADMIN),
    ("POST", "/v1/keys", {"scopes": ["admin"]}, ADMIN),
    ("POST", "/v1/keys/{key_id}/revoke", None, ADMIN),
    ("POST", "/v1/responses", RESPONSE, WRITE),
    ("POST", "/v1/responses/batch", {"responses": [RESPONSE]}, WRITE),
    ("GET", "/v1/responses", None, WRITE),
    ("DELETE", "/v1/responses/{response_id}", None, ADMIN),
    ("GET", "/v1/teams/t1/scores", None, READ),
    ("GET", "/v1/places/north/scores", None, READ),
    ("GET", "/v1/warning-signs", None, READ),
    ("GET", "/v1/rules", None, READ),
    ("PUT", "/v1/rules", {"rules": {"polarised": {"amber_sd": 1.5}}}, ADMIN),
    ("GET", "/v1/feeds/scores", None, FEEDS),
    ("GET", "/v1/feeds/warning-signs", None, FEEDS),
    ("GET", "/v1/feeds/participation", None, FEEDS),
    ("GET", "/v1/feeds/places", None, FEEDS),
    ("GET", "/v1/feeds/organisations", None, FEEDS),
    ("GET", "/v1/feeds/teams", None, FEEDS),
    ("GET", "/v1/feeds/pulses", None, FEEDS),
    ("POST", "/v1/rules/preview", {"rules": {"polarised": {"amber_sd": 1.5}}}, READ),
    ("GET", "/metrics", None, ADMIN),
    ("GET", "/v1/audit-events", None, ADMIN),
]
UNAUTHENTICATED = {("GET", "/healthz"), ("GET", "/readyz")}


def route_template(path: str) -> str:
    return (
        path.replace("north", "{code}")
        .replace("trust-a", "{code}")
        .replace("/t1", "/{code}")
        .replace("2026-11", "{key}")
    )


def test_the_route_table_covers_every_route_of_the_app() -> None:
    paths = create_app().openapi()["paths"]
    served = {(method.upper(), path) for path, item in paths.items() for method in item}
    listed = {(method, route_template(path)) for method, path, _body, _needs in ROUTES}
    assert served == listed | UNAUTHENTICATED


def seed(client: TestClient, tenant: Tenant) -> None:
    for path, body in [
        ("/v1/places", {"code": "north", "name": "North"}),
        ("/v1/organisations", {"code": "trust-a", "name": "Trust A", "kind": "nhs_trust"}),
        ("/v1/teams", TEAM),
        ("/v1/pulses", PULSE),
        ("/v1/responses", {**RESPONSE, "external_id": "r1"}),
    ]:
        assert client.post(path, json=body, headers=tenant.admin).status_code == 201


def snapshot(client: TestClient, tenant: Tenant) -> list[Any]:
    """Everything system A's admin can read."""
    paths = [
        "/v1/system",
        "/v1/places",
        "/v1/organisations",
        "/v1/teams",
        "/v1/pulses",
        "/v1/responses",
        "/v1/rules",
        "/v1/warning-signs",
        "/v1/teams/t1/scores",
        "/v1/keys",
    ]
    return [client.get(p, headers=tenant.admin).json() for p in paths]


def concrete(client: TestClient, tenant: Tenant, path: str) -> str:
    """``path`` with the ids of system A's first key and first response filled in."""
    key_id = client.get("/v1/keys", headers=tenant.admin).json()["data"][0]["id"]
    response_id = client.get("/v1/responses", headers=tenant.admin).json()["data"][0]["id"]
    return path.format(key_id=key_id, response_id=response_id)


@pytest.mark.parametrize(("method", "path", "body", "needs"), ROUTES)
def test_every_route_needs_a_key(
    client: TestClient, tenant: Tenant, method: str, path: str, body: Any, needs: Scope | None
) -> None:
    seed(client, tenant)
    path = concrete(client, tenant, path)
    before = snapshot(client, tenant)
    for headers in [{}, bearer("pulse_not-a-real-key"), {"Authorization": "Token abc"}]:
        assert_problem(client.request(method, path, json=body, headers=headers), 401)
    assert snapshot(client, tenant) == before


@pytest.mark.parametrize(("method", "path", "body", "needs"), ROUTES)
@pytest.mark.parametrize("scope", [Scope.responses_write, Scope.insights_read, Scope.feeds_read])
def test_every_route_allows_its_scope_and_refuses_the_others(
    client: TestClient,
    db: Session,
    tenant: Tenant,
    method: str,
    path: str,
    body: Any,
    needs: Scope | None,
    scope: Scope,
) -> None:
    seed(client, tenant)
    path = concrete(client, tenant, path)
    before = snapshot(client, tenant)
    key = make_key(db, tenant.system, scope)
    response = client.request(method, path, json=body, headers=bearer(key))
    if needs is None or needs == scope:
        assert response.status_code in (200, 201, 204), response.text
    else:
        assert_problem(response, 403)
        after = snapshot(client, tenant)
        # Leave out the key this test made.
        after[-1]["data"] = [k for k in after[-1]["data"] if not key.startswith(k["prefix"])]
        assert after == before


@pytest.mark.parametrize(("method", "path", "body", "admin"), ROUTES)
def test_another_systems_key_can_neither_see_nor_change_anything(
    client: TestClient,
    tenant: Tenant,
    other: Tenant,
    method: str,
    path: str,
    body: Any,
    admin: bool,
) -> None:
    seed(client, tenant)
    is_record = path != route_template(path) or "{" in path
    path = concrete(client, tenant, path)
    before = snapshot(client, tenant)
    response = client.request(method, path, json=body, headers=other.admin)
    text = response.text
    if is_record:  # a record of system A, by code or id
        assert_problem(response, 404)
    elif method == "GET":
        assert response.status_code == 200
        for code in ["north", "trust-a", "t1", "2026-11", "north-ics", "r1"]:
            assert f'"{code}"' not in text
    elif path in ("/v1/teams", "/v1/responses", "/v1/responses/batch"):
        # B cannot attach a team to A's place, nor post to A's pulse and team.
        assert_problem(response, 422)
    else:
        assert response.status_code in (200, 201), text
    assert snapshot(client, tenant) == before


def test_basic_auth_with_the_key_as_password_is_accepted(
    client: TestClient, tenant: Tenant
) -> None:
    key = tenant.admin["Authorization"].removeprefix("Bearer ")
    response = client.get("/v1/system", auth=("powerbi", key))
    assert response.status_code == 200
    assert response.json()["slug"] == "north-ics"
    assert client.get("/v1/system", auth=("", key)).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["Basic !!!", "Basic " + "dXNlcg==", "Basic " + "dXNlcjo=", "Bearer", "Bearer  ", "Digest x"],
)
def test_malformed_credentials_are_unauthenticated(
    client: TestClient, tenant: Tenant, authorization: str
) -> None:
    assert_problem(client.get("/v1/system", headers={"Authorization": authorization}), 401)


def test_wrong_password_with_basic_auth_is_unauthenticated(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get("/v1/system", auth=("powerbi", "pulse_wrong"))
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
