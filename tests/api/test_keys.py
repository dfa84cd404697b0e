"""API keys: shown once, stored hashed, expiring, revocable."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApiKey
from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.builders import T0, assert_problem, bearer, make_key
from tests.conftest import Clock


def test_a_new_key_is_shown_once_and_works(client: TestClient, tenant: Tenant, db: Session) -> None:
    created = client.post(
        "/v1/keys", json={"name": "Power BI", "scopes": ["feeds:read"]}, headers=tenant.admin
    )
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith(body["prefix"]) and len(key) > 40
    assert body["scopes"] == ["feeds:read"]
    assert client.get("/v1/system", headers=bearer(key)).status_code == 200
    listed = client.get("/v1/keys", headers=tenant.admin).text
    assert key not in listed and body["id"] in listed
    stored = db.scalars(select(ApiKey.secret_hash)).all()
    assert key not in stored and all(len(h) == 64 for h in stored)


def test_revoked_key_stops_working_at_once(client: TestClient, tenant: Tenant) -> None:
    created = client.post("/v1/keys", json={"scopes": ["admin"]}, headers=tenant.admin).json()
    assert client.get("/v1/system", headers=bearer(created["key"])).status_code == 200
    revoked = client.post(f"/v1/keys/{created['id']}/revoke", headers=tenant.admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert_problem(client.get("/v1/system", headers=bearer(created["key"])), 401)
    again = client.post(f"/v1/keys/{created['id']}/revoke", headers=tenant.admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_expired_key_is_refused(
    client: TestClient, tenant: Tenant, db: Session, clock: Clock
) -> None:
    key = make_key(db, tenant.system, Scope.admin, expires_at=T0 + timedelta(days=30))
    clock.now = T0 + timedelta(days=29)
    assert client.get("/v1/system", headers=bearer(key)).status_code == 200
    clock.now = T0 + timedelta(days=30)
    problem = assert_problem(client.get("/v1/system", headers=bearer(key)), 401)
    assert "expired" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"scopes": []}, "/scopes"),
        ({"scopes": ["root"]}, "/scopes/0"),
        ({}, "/scopes"),
        ({"scopes": ["admin"], "expires_at": "2027-01-01T00:00:00"}, "/expires_at"),
        ({"scopes": ["admin"], "expires_at": "2020-01-01T00:00:00Z"}, "/expires_at"),
        ({"scopes": ["admin"], "name": "x" * 201}, "/name"),
        ({"scopes": ["admin"], "secret": "mine"}, "/secret"),
    ],
)
def test_bad_key_requests_are_refused(
    client: TestClient, tenant: Tenant, body: dict[str, object], pointer: str
) -> None:
    before = client.get("/v1/keys", headers=tenant.admin).json()
    problem = assert_problem(client.post("/v1/keys", json=body, headers=tenant.admin), 422)
    assert problem["errors"][0]["pointer"] == pointer
    assert client.get("/v1/keys", headers=tenant.admin).json() == before


def test_repeated_scopes_are_stored_once(client: TestClient, tenant: Tenant) -> None:
    body = {"scopes": ["feeds:read", "feeds:read", "insights:read"]}
    created = client.post("/v1/keys", json=body, headers=tenant.admin).json()
    assert created["scopes"] == ["feeds:read", "insights:read"]


def test_unknown_key_id_is_not_found(client: TestClient, tenant: Tenant) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    assert_problem(client.post(f"/v1/keys/{unknown}/revoke", headers=tenant.admin), 404)


def test_a_key_id_that_is_not_a_uuid_is_a_bad_request(client: TestClient, tenant: Tenant) -> None:
    problem = assert_problem(client.post("/v1/keys/not-a-uuid/revoke", headers=tenant.admin), 400)
    assert problem["errors"][0]["parameter"] == "key_id"


def test_keys_are_listed_oldest_first_across_pages(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    for minute in range(5):
        clock.now = T0 + timedelta(minutes=minute + 1)
        client.post(
            "/v1/keys", json={"scopes": ["admin"], "name": f"k{minute}"}, headers=tenant.admin
        )
    names: list[str | None] = []
    url: str | None = "/v1/keys?limit=2"
    while url:
        body = client.get(url, headers=tenant.admin).json()
        names += [k["name"] for k in body["data"]]
        url = body["next"]
    assert names == [None, "k0", "k1", "k2", "k3", "k4"]
