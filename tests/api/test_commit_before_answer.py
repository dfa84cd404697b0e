"""A write is committed before its answer starts (issue 10: acknowledged writes were lost).

The request's session used to commit after the response had been sent, so a client could
read back a 404 for what it had just created, a revoked key kept working for a moment,
and a crash between the answer and the commit lost a write the client was told was
stored. Here the application is driven at the ASGI level, recording in one sequence when
a session commits and when the answer starts: the commit must come first.
"""

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.api.conftest import Tenant
from tests.api.test_responses import answer, seed


@pytest.fixture
def order() -> Iterator[list[Any]]:
    """What happened, in order: "commit" for every session commit, the answer's status."""
    seen: list[Any] = []

    def committed(_session: Session) -> None:
        seen.append("commit")

    event.listen(Session, "after_commit", committed)
    yield seen
    event.remove(Session, "after_commit", committed)


def call(
    client: TestClient, method: str, path: str, headers: dict[str, str], body: Any, order: list[Any]
) -> int:
    """Send one request straight to the application, noting when its answer starts."""
    content = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            (b"host", b"testserver"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
        "state": {},
    }
    status: list[int] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": content, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            order.append(("answer", message["status"]))

    async def run() -> None:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    anyio.run(run)
    return status[0]


def test_a_created_place_is_committed_before_the_201(
    client: TestClient, tenant: Tenant, order: list[Any]
) -> None:
    status = call(
        client, "POST", "/v1/places", tenant.admin, {"code": "east", "name": "East"}, order
    )

    assert status == 201
    assert "commit" in order
    assert order.index("commit") < order.index(("answer", 201))


def test_a_stored_response_is_committed_before_the_201(
    client: TestClient, tenant: Tenant, order: list[Any]
) -> None:
    seed(client, tenant)
    order.clear()

    status = call(client, "POST", "/v1/responses", tenant.admin, answer(), order)

    assert status == 201
    assert order.index("commit") < order.index(("answer", 201))


def test_a_refused_write_commits_nothing_before_its_problem(
    client: TestClient, tenant: Tenant, order: list[Any]
) -> None:
    status = call(client, "POST", "/v1/places", tenant.admin, {"code": "east"}, order)

    assert status == 422
    assert order == [("answer", 422)]


def test_a_commit_that_fails_is_answered_as_a_failure_and_stores_nothing(
    client: TestClient, tenant: Tenant, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, the 201 had gone out when the commit failed: the client was told "stored".
    def failing(session: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "commit", failing)
    place = {"code": "east", "name": "East"}
    response = client.post("/v1/places", json=place, headers=tenant.admin)
    monkeypatch.undo()

    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/places/east", headers=tenant.admin).status_code == 404
