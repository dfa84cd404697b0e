"""No scores oracle: a re-post, a batch or a replay answers another client alike, right or wrong.

A portal is a *client*: keys of the system naming the same client are the same portal,
and a key naming none is a portal of its own. Only the portal that stored a response
learns whether a re-post matches it (DESIGN section 3, rule 6).
"""

import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.services import responses as service
from app.services.imports import import_responses
from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.api.test_responses import CSV, answer, count, seed
from tests.builders import assert_problem, bearer, make_key
from tests.conftest import Clock

# What the storing portal posted, and two guesses at it: one right, one wrong.
STORED = answer(external_id="p-1")
RIGHT = answer(external_id="p-1")
WRONG = answer(external_id="p-1", scores={"purpose": 1, "belief": 3.5, "support": 2.25})


@pytest.fixture
def portal(client: TestClient, tenant: Tenant, db: Session) -> dict[str, str]:
    """A seeded system and a key of the client `portal-a` (responses:write only)."""
    seed(client, tenant)
    return bearer(make_key(db, tenant.system, Scope.responses_write, client="portal-a"))


def stranger(tenant: Tenant, db: Session, kind: str) -> dict[str, str]:
    """A key that did not store the portal's responses."""
    if kind == "admin":
        return tenant.admin
    client = {"key of another client": "portal-b", "key without a client": None}[kind]
    return bearer(make_key(db, tenant.system, Scope.responses_write, client=client))


STRANGERS = ["key of another client", "key without a client", "admin"]


def batch(*items: dict[str, Any]) -> dict[str, Any]:
    return {"responses": list(items)}


@pytest.mark.parametrize("kind", STRANGERS)
def test_another_client_gets_one_answer_to_a_right_and_a_wrong_guess(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session, kind: str
) -> None:
    assert client.post("/v1/responses", json=STORED, headers=portal).status_code == 201
    key = stranger(tenant, db, kind)

    right = client.post("/v1/responses", json=RIGHT, headers=key)
    wrong = client.post("/v1/responses", json=WRONG, headers=key)

    body = assert_problem(right, 409)
    assert assert_problem(wrong, 409) == body
    assert body["errors"] == [
        {"pointer": "/external_id", "detail": "'p-1' is already used by another client"}
    ]
    assert "another client" in body["detail"]
    assert count(db) == 1


@pytest.mark.parametrize("kind", STRANGERS)
@pytest.mark.parametrize("size", [1, 80])
def test_another_client_gets_one_answer_to_a_batch_of_right_and_wrong_guesses(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session, kind: str, size: int
) -> None:
    assert client.post("/v1/responses", json=STORED, headers=portal).status_code == 201
    key = stranger(tenant, db, kind)
    # Beyond SMALL_WRITE items the write goes through COPY on PostgreSQL, then falls back.
    others = [answer(external_id=f"new-{i}") for i in range(size - 1)]

    right = client.post("/v1/responses/batch", json=batch(*others, RIGHT), headers=key)
    wrong = client.post("/v1/responses/batch", json=batch(*others, WRONG), headers=key)

    body = assert_problem(right, 409)
    assert assert_problem(wrong, 409) == body
    assert body["errors"] == [
        {
            "pointer": f"/responses/{size - 1}/external_id",
            "detail": "'p-1' is already used by another client",
        }
    ]
    assert count(db) == 1


@pytest.mark.parametrize("size", [1, 80])
def test_a_guess_that_meets_a_concurrent_write_is_answered_alike(
    client: TestClient,
    tenant: Tenant,
    portal: dict[str, str],
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    assert client.post("/v1/responses", json=STORED, headers=portal).status_code == 201
    looked_up = service._fingerprints
    calls: list[int] = []

    def late(session: Session, system_id: int, external_ids: Any) -> Any:
        # The first look-up misses p-1, as when a concurrent writer stores it just after:
        # the insert then skips it (ON CONFLICT DO NOTHING) and it is looked up again.
        calls.append(1)
        return {} if len(calls) == 1 else looked_up(session, system_id, external_ids)

    monkeypatch.setattr(service, "_fingerprints", late)
    others = [answer(external_id=f"new-{i}") for i in range(size - 1)]

    def post(guess: dict[str, Any], key: dict[str, str]) -> Any:
        calls.clear()
        return client.post("/v1/responses/batch", json=batch(*others, guess), headers=key)

    key = stranger(tenant, db, "key of another client")
    right, wrong = post(RIGHT, key), post(WRONG, key)
    assert assert_problem(right, 409) == assert_problem(wrong, 409)
    assert "another client" in right.json()["detail"]
    own = post(RIGHT, portal)
    assert own.status_code == (201 if size > 1 else 200)
    assert own.json() == {"created": size - 1, "already_stored": 1}
    assert len(calls) == 2
    assert count(db) == size


def test_guesses_at_many_responses_in_one_batch_are_answered_alike(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session
) -> None:
    stored = [answer(external_id=f"p-{i}", scores={"support": 1 + i % 5}) for i in range(60)]
    assert (
        client.post("/v1/responses/batch", json=batch(*stored), headers=portal).status_code == 201
    )
    key = stranger(tenant, db, "key of another client")
    # Every guess right, then every guess wrong.
    wrong = [{**item, "scores": {"support": 1 + (i + 1) % 5}} for i, item in enumerate(stored)]

    answers = [
        client.post("/v1/responses/batch", json=batch(*guesses), headers=key)
        for guesses in (stored, wrong)
    ]

    assert assert_problem(answers[0], 409) == assert_problem(answers[1], 409)
    assert len(answers[0].json()["errors"]) == 60
    assert count(db) == 60


def test_the_storing_client_keeps_the_receipt_for_a_repost_and_a_conflict_for_a_change(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session
) -> None:
    first = client.post("/v1/responses", json=STORED, headers=portal)
    rotated = bearer(make_key(db, tenant.system, Scope.responses_write, client="portal-a"))

    for key in (portal, rotated):
        again = client.post("/v1/responses", json=RIGHT, headers=key)
        assert again.status_code == 200 and again.json() == first.json()
        changed = assert_problem(client.post("/v1/responses", json=WRONG, headers=key), 409)
        assert changed["errors"] == [
            {"pointer": "/external_id", "detail": "'p-1' is stored with other answers"}
        ]
        result = client.post("/v1/responses/batch", json=batch(RIGHT), headers=key)
        assert result.status_code == 200
        assert result.json() == {"created": 0, "already_stored": 1}
        assert_problem(client.post("/v1/responses/batch", json=batch(WRONG), headers=key), 409)
    assert count(db) == 1


def test_a_key_without_a_client_keeps_what_it_stored_to_itself(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    seed(client, tenant)
    lone = bearer(make_key(db, tenant.system, Scope.responses_write))
    first = client.post("/v1/responses", json=STORED, headers=lone)
    again = client.post("/v1/responses", json=RIGHT, headers=lone)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert_problem(client.post("/v1/responses", json=WRONG, headers=lone), 409)

    # A new key without a client is another portal, as is the admin.
    for key in (bearer(make_key(db, tenant.system, Scope.responses_write)), tenant.admin):
        right = assert_problem(client.post("/v1/responses", json=RIGHT, headers=key), 409)
        assert assert_problem(client.post("/v1/responses", json=WRONG, headers=key), 409) == right
        assert "another client" in right["detail"]
    assert count(db) == 1


@pytest.mark.parametrize("with_external_ids", [True, False])
def test_another_clients_idempotency_key_replays_nothing_right_or_wrong(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session, with_external_ids: bool
) -> None:
    items = [answer(), answer(team="t2")]
    if with_external_ids:
        items = [{**item, "external_id": f"p-{i}"} for i, item in enumerate(items)]
    sent = {"Idempotency-Key": "batch-1"}
    first = client.post("/v1/responses/batch", json=batch(*items), headers={**portal, **sent})
    assert first.status_code == 201
    wrong_items = [{**item, "scores": {"support": 5}} for item in items]
    # One guess each from two other clients, so that neither meets the other's key.
    b, c = (make_key(db, tenant.system, Scope.responses_write, client=n) for n in ("b", "c"))

    right = client.post("/v1/responses/batch", json=batch(*items), headers={**bearer(b), **sent})
    wrong = client.post(
        "/v1/responses/batch", json=batch(*wrong_items), headers={**bearer(c), **sent}
    )

    if with_external_ids:
        # Not replays: each is checked afresh, and the external_ids are another client's.
        assert assert_problem(right, 409) == assert_problem(wrong, 409)
        assert count(db) == 2
    else:
        # Not replays: each is stored afresh, as the other client's own.
        assert right.status_code == wrong.status_code == 201
        assert right.json() == wrong.json() == {"created": 2, "already_stored": 0}
        assert count(db) == 6


def test_the_storing_client_replays_its_idempotency_key_from_a_rotated_key(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session
) -> None:
    sent = {"Idempotency-Key": "batch-1"}
    items = batch(answer(), answer(team="t2"))
    first = client.post("/v1/responses/batch", json=items, headers={**portal, **sent})
    rotated = {
        **bearer(make_key(db, tenant.system, Scope.responses_write, client="portal-a")),
        **sent,
    }

    replay = client.post("/v1/responses/batch", json=items, headers=rotated)
    other = client.post("/v1/responses/batch", json=batch(answer()), headers=rotated)

    assert replay.status_code == first.status_code == 201
    assert replay.json() == first.json() == {"created": 2, "already_stored": 0}
    assert assert_problem(other, 422)["errors"][0]["detail"] == (
        "the body differs from the first request"
    )
    assert count(db) == 2


def listed(client: TestClient, headers: dict[str, str], **params: str) -> list[str]:
    body = client.get("/v1/responses", params=params, headers=headers).json()
    return sorted(r["external_id"] for r in body["data"])


def test_a_portal_lists_only_what_its_client_stored_and_an_admin_lists_all(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session
) -> None:
    other = bearer(make_key(db, tenant.system, Scope.responses_write, client="portal-b"))
    lone = bearer(make_key(db, tenant.system, Scope.responses_write))
    for external_id, key in [("a-1", portal), ("a-2", portal), ("b-1", other), ("l-1", lone)]:
        body = answer(external_id=external_id)
        assert client.post("/v1/responses", json=body, headers=key).status_code == 201
    admin = client.post("/v1/responses", json=answer(external_id="x-1"), headers=tenant.admin)
    assert admin.status_code == 201
    rotated = bearer(make_key(db, tenant.system, Scope.responses_write, client="portal-a"))

    assert listed(client, portal) == listed(client, rotated) == ["a-1", "a-2"]
    assert listed(client, other) == ["b-1"]
    assert listed(client, lone) == ["l-1"]
    assert listed(client, other, external_id="a-1") == []
    assert listed(client, portal, external_id="a-1", team="t1", pulse="2026-11") == ["a-1"]
    assert listed(client, tenant.admin) == ["a-1", "a-2", "b-1", "l-1", "x-1"]


def test_a_portal_pages_through_its_own_responses_only(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session, clock: Clock
) -> None:
    other = bearer(make_key(db, tenant.system, Scope.responses_write, client="portal-b"))
    for i in range(6):
        clock.now += timedelta(seconds=1)
        key = portal if i % 2 else other
        client.post("/v1/responses", json=answer(external_id=f"r{i}"), headers=key)
    seen: list[str] = []
    url: str | None = "/v1/responses?limit=2"
    while url:
        body = client.get(url, headers=portal).json()
        seen += [r["external_id"] for r in body["data"]]
        url = body["next"]
    assert seen == ["r1", "r3", "r5"]


def test_an_imported_response_is_no_portals_own(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session, clock: Clock
) -> None:
    line = "2026-11,t1,4,3.5,2.25,frontline,nursing,council,2026-11-20T09:30:00Z,p-1\n"
    report = import_responses(db, tenant.system.id, io.BytesIO((CSV + line).encode()), clock())
    assert (report.created, report.error_count) == (1, 0)

    right = assert_problem(client.post("/v1/responses", json=RIGHT, headers=portal), 409)
    assert assert_problem(client.post("/v1/responses", json=WRONG, headers=portal), 409) == right
    assert listed(client, portal) == []
    assert listed(client, tenant.admin) == ["p-1"]
    again = import_responses(db, tenant.system.id, io.BytesIO((CSV + line).encode()), clock())
    assert (again.created, again.already_stored, again.error_count) == (0, 1, 0)
    assert count(db) == 1


def test_a_key_names_its_client_and_shows_it(client: TestClient, tenant: Tenant) -> None:
    body = {"name": "Intranet portal", "scopes": ["responses:write"], "client": "intranet.v2"}
    created = client.post("/v1/keys", json=body, headers=tenant.admin)
    assert created.status_code == 201 and created.json()["client"] == "intranet.v2"
    bare = client.post("/v1/keys", json={"scopes": ["feeds:read"]}, headers=tenant.admin)
    assert bare.status_code == 201 and bare.json()["client"] is None
    keys = client.get("/v1/keys", headers=tenant.admin).json()["data"]
    assert {k["id"]: k["client"] for k in keys} == {
        keys[0]["id"]: None,
        created.json()["id"]: "intranet.v2",
        bare.json()["id"]: None,
    }


@pytest.mark.parametrize("name", ["Intranet", "-portal", "has space", "x" * 65, ""])
def test_a_client_name_follows_the_code_pattern(
    client: TestClient, tenant: Tenant, name: str
) -> None:
    body = {"scopes": ["responses:write"], "client": name}
    problem = assert_problem(client.post("/v1/keys", json=body, headers=tenant.admin), 422)
    assert problem["errors"][0]["pointer"] == "/client"
