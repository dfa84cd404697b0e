"""Bad input of every shape gets a problem document and changes nothing."""

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Tenant
from tests.builders import assert_problem


def places(client: TestClient, tenant: Tenant) -> list[str]:
    return [p["code"] for p in client.get("/v1/places", headers=tenant.admin).json()["data"]]


@pytest.mark.parametrize(
    "content", [b"{", b"", b"null", b"[]", b'"text"', b"\xff\xfe", b'{"code": "a", "name": "b",}']
)
def test_malformed_bodies_are_refused(client: TestClient, tenant: Tenant, content: bytes) -> None:
    headers = {**tenant.admin, "Content-Type": "application/json"}
    response = client.post("/v1/places", content=content, headers=headers)
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)
    assert places(client, tenant) == []


def test_invalid_json_is_a_bad_request(client: TestClient, tenant: Tenant) -> None:
    headers = {**tenant.admin, "Content-Type": "application/json"}
    problem = assert_problem(client.post("/v1/places", content=b"{", headers=headers), 400)
    assert "JSON" in problem["detail"]


def test_a_body_that_is_not_json_is_unsupported(client: TestClient, tenant: Tenant) -> None:
    headers = {**tenant.admin, "Content-Type": "text/plain"}
    response = client.post("/v1/places", content=b'{"code": "a", "name": "b"}', headers=headers)
    assert_problem(response, 415)
    assert places(client, tenant) == []


def test_an_oversized_body_is_refused(client: TestClient, tenant: Tenant) -> None:
    body = {"code": "a", "name": "b", "padding": "x" * 1_100_000}
    problem = assert_problem(client.post("/v1/places", json=body, headers=tenant.admin), 413)
    assert "bytes" in problem["detail"]
    assert places(client, tenant) == []


def test_an_oversized_streamed_body_is_refused(client: TestClient, tenant: Tenant) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"code": "a", "name": "'
        for _ in range(200):
            yield b"x" * 10_000
        yield b'"}'

    headers = {**tenant.admin, "Content-Type": "application/json"}
    assert_problem(client.post("/v1/places", content=chunks(), headers=headers), 413)
    assert places(client, tenant) == []


@pytest.mark.parametrize(
    "url", ["/v1/places?cursor=%00", "/v1/places/a%00b", "/v1/teams?place=%00"]
)
def test_nul_characters_in_the_url_are_refused(
    client: TestClient, tenant: Tenant, url: str
) -> None:
    assert_problem(client.get(url, headers=tenant.admin), 400)


def test_nul_characters_in_text_fields_are_refused(client: TestClient, tenant: Tenant) -> None:
    body = {"code": "a", "name": "b\u0000c"}
    assert_problem(client.post("/v1/places", json=body, headers=tenant.admin), 422)
    assert places(client, tenant) == []


def test_unknown_path_is_a_not_found_problem(client: TestClient) -> None:
    assert_problem(client.get("/v2/places"), 404)


def test_wrong_method_is_a_method_not_allowed_problem(client: TestClient, tenant: Tenant) -> None:
    assert_problem(client.delete("/v1/places", headers=tenant.admin), 405)


@pytest.mark.parametrize(
    "body",
    [
        {"code": 5, "name": "x"},
        {"code": "a", "name": ["x"]},
        {"code": "a", "name": "x" * 201},
        {"code": {"$ne": ""}, "name": "x"},
        {"name": "x"},
    ],
)
def test_wrong_types_point_at_the_field(
    client: TestClient, tenant: Tenant, body: dict[str, object]
) -> None:
    problem = assert_problem(client.post("/v1/places", json=body, headers=tenant.admin), 422)
    pointers = [e["pointer"] for e in problem["errors"]]
    assert pointers and all(p in ("/code", "/name") for p in pointers)
    assert places(client, tenant) == []
