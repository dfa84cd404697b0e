"""Requests as a deployment sees them: body codings, methods, and bounded problem details."""

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.errors import ProblemError
from tests.api.conftest import Tenant
from tests.builders import assert_problem

JSON = {"Content-Type": "application/json"}


def seed_places(client: TestClient, tenant: Tenant, count: int = 3) -> None:
    for i in range(count):
        body = {"code": f"p{i}", "name": f"Place {i}"}
        assert client.post("/v1/places", json=body, headers=tenant.admin).status_code == 201


def places(client: TestClient, tenant: Tenant) -> list[str]:
    return [p["code"] for p in client.get("/v1/places", headers=tenant.admin).json()["data"]]


def test_a_gzip_body_is_decompressed_and_stored(client: TestClient, tenant: Tenant) -> None:
    body = gzip.compress(b'{"code": "gz", "name": "Gzipped"}')
    headers = {**tenant.admin, **JSON, "Content-Encoding": "gzip"}
    response = client.post("/v1/places", content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert places(client, tenant) == ["gz"]


def test_a_zip_bomb_is_too_large(client: TestClient, tenant: Tenant) -> None:
    bomb = gzip.compress(b'{"code": "a", "name": "' + b" " * 50_000_000 + b'"}')
    assert len(bomb) < 100_000  # well under the 1,000,000-byte limit before decompression
    headers = {**tenant.admin, **JSON, "Content-Encoding": "gzip"}
    problem = assert_problem(client.post("/v1/places", content=bomb, headers=headers), 413)
    assert "decompressed" in problem["detail"]
    assert places(client, tenant) == []


@pytest.mark.parametrize(
    "body", [b"not gzip at all", gzip.compress(b'{"code": "a", "name": "b"}')[:-12]]
)
def test_a_corrupt_or_truncated_gzip_body_is_a_bad_request(
    client: TestClient, tenant: Tenant, body: bytes
) -> None:
    headers = {**tenant.admin, **JSON, "Content-Encoding": "gzip"}
    problem = assert_problem(client.post("/v1/places", content=body, headers=headers), 400)
    assert "gzip" in problem["detail"]
    assert places(client, tenant) == []


@pytest.mark.parametrize("coding", ["br", "deflate", "gzip, gzip", "zstd"])
def test_other_content_encodings_are_unsupported(
    client: TestClient, tenant: Tenant, coding: str
) -> None:
    headers = {**tenant.admin, **JSON, "Content-Encoding": coding}
    response = client.post("/v1/places", content=b'{"code": "a", "name": "b"}', headers=headers)
    assert_problem(response, 415)
    assert response.headers["accept-encoding"] == "gzip"
    assert places(client, tenant) == []


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/places", "GET, HEAD, OPTIONS, POST"),
        ("PUT", "/v1/places/north", "GET, HEAD, OPTIONS, PATCH"),
        ("POST", "/v1/rules", "GET, HEAD, OPTIONS, PUT"),
        ("GET", "/v1/keys/abc/revoke", "OPTIONS, POST"),
        ("PATCH", "/v1/keys", "GET, HEAD, OPTIONS, POST"),
        ("POST", "/healthz", "GET, HEAD, OPTIONS"),
        # A resource of its own, not also /v1/responses/{response_id} beside it.
        ("GET", "/v1/responses/batch", "OPTIONS, POST"),
        # Found by the contract fuzzer: the router took it for DELETE /v1/responses/{id}.
        ("DELETE", "/v1/responses/batch", "OPTIONS, POST"),
        ("PATCH", "/v1/responses/batch", "OPTIONS, POST"),
    ],
)
def test_a_405_and_options_list_every_method_of_the_path(
    client: TestClient, tenant: Tenant, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path, headers=tenant.admin)
    assert_problem(response, 405)
    assert response.headers["allow"] == allow
    options = client.options(path)
    assert (options.status_code, options.headers["allow"], options.content) == (204, allow, b"")


def test_head_on_a_path_without_get_is_a_405_without_a_body(client: TestClient) -> None:
    response = client.head("/v1/responses/batch")
    assert (response.status_code, response.headers["allow"], response.content) == (
        405,
        "OPTIONS, POST",
        b"",
    )
    assert response.headers["content-type"] == "application/problem+json"


def test_options_on_an_unknown_path_is_not_found(client: TestClient) -> None:
    assert_problem(client.options("/v1/nowhere"), 404)


@pytest.mark.parametrize(
    "path",
    ["/v1/places", "/v1/system", "/v1/rules", "/v1/places/nope", "/healthz", "/openapi.json"],
)
def test_head_answers_as_get_without_the_body(
    client: TestClient, tenant: Tenant, path: str
) -> None:
    seed_places(client, tenant, 1)
    got = client.get(path, headers=tenant.admin)
    head = client.head(path, headers=tenant.admin)
    assert head.status_code == got.status_code
    assert head.content == b""
    for name in ("content-type", "content-length", "cache-control", "x-content-type-options"):
        assert head.headers.get(name) == got.headers.get(name)


def test_a_long_path_segment_is_not_echoed_whole(client: TestClient, tenant: Tenant) -> None:
    # Longer than a code may be (the contract's maxLength): a 400 that does not repeat it.
    answer = client.get("/v1/places/" + "a" * 60_000, headers=tenant.admin)
    problem = assert_problem(answer, 400)
    assert problem["errors"][0]["parameter"] == "code"
    assert len(answer.content) < 1000 and "aaaaaaaaaa" not in answer.text


def test_field_pointers_and_details_stay_within_the_contract(
    client: TestClient, tenant: Tenant
) -> None:
    body = {"code": "a", "name": "b", "x" * 5_000: 1}
    problem = assert_problem(client.post("/v1/places", json=body, headers=tenant.admin), 422)
    assert problem["errors"] and all(len(e["pointer"]) <= 1024 for e in problem["errors"])
    assert len(ProblemError("d" * 100_000).body()["detail"]) == 2000


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/places"),
        ("PATCH", "/v1/system"),
        ("PUT", "/v1/rules"),
        ("POST", "/v1/keys"),
        ("POST", "/v1/responses"),
        ("POST", "/v1/responses/batch"),
    ],
)
def test_a_body_that_is_not_utf8_is_a_documented_bad_request(
    client: TestClient, tenant: Tenant, method: str, path: str
) -> None:
    body = b'{"code": "\xff"}'
    response = client.request(method, path, content=body, headers={**tenant.admin, **JSON})
    problem = assert_problem(response, 400)
    assert problem["type"] == "/problems/bad-request" and "JSON" in problem["detail"]


def every_problem_type() -> set[str]:
    found, todo = set(), [ProblemError]
    while todo:
        cls = todo.pop()
        found.add(cls.slug)
        todo += cls.__subclasses__()
    return found


def test_every_problem_type_is_documented(project_root: Path) -> None:
    doc = (project_root / "docs" / "API.md").read_text()
    errors = doc[doc.index("## Errors") :]
    slugs = every_problem_type() | {"http-error"}  # the fallback of app.errors, unnamed
    assert {slug for slug in slugs if f"`/problems/{slug}`" not in errors} == set()
