"""HTTP conventions: challenges, unknown parameters and codes, formats not served."""

from fastapi.testclient import TestClient

from tests.api.conftest import Tenant


def test_a_401_challenges_both_bearer_and_basic(client: TestClient) -> None:
    response = client.get("/v1/teams")
    assert response.status_code == 401
    challenges = response.headers.get_list("www-authenticate")
    assert [c.split()[0] for c in challenges] == ["Bearer", "Basic"]


def test_an_unknown_query_parameter_is_a_400_naming_it(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/teams?palce=north", headers=tenant.admin)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["parameter"] == "palce"


def test_a_format_a_route_does_not_serve_is_refused(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/teams?format=csv", headers=tenant.admin)
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "format"


def test_a_filter_naming_no_place_is_a_404_naming_it(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/teams?place=nowhere", headers=tenant.admin)
    assert response.status_code == 404
    assert response.json()["errors"] == [
        {"parameter": "place", "detail": "no place with this code"}
    ]


def test_a_filter_naming_no_pulse_is_a_404_on_the_feeds(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/feeds/scores?pulse=nope", headers=tenant.admin)
    assert response.status_code == 404
    assert response.json()["errors"][0]["parameter"] == "pulse"


def test_a_pulse_cannot_take_the_reserved_key_latest(client: TestClient, tenant: Tenant) -> None:
    body = {"key": "latest", "title": "x", "opens_on": "2026-12-01", "closes_on": "2026-12-02"}
    response = client.post("/v1/pulses", json=body, headers=tenant.admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/key"
    assert client.get("/v1/pulses/latest", headers=tenant.admin).status_code == 404
