"""Posting responses: validation, safe re-posts, batches, pulse state, reconciliation, erasure."""

import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import IdempotencyRecord, Response
from app.schemas.responses import ResponseCreate
from app.services.imports import import_responses
from app.services.responses import fingerprint, stored_scores
from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.builders import assert_problem, bearer, make_key
from tests.conftest import Clock


def seed(client: TestClient, tenant: Tenant) -> None:
    """A place, two organisations, two teams, an open pulse, a closed and a scheduled one."""
    for path, body in [
        ("/v1/places", {"code": "north", "name": "North"}),
        ("/v1/organisations", {"code": "trust-a", "name": "Trust A", "kind": "nhs_trust"}),
        ("/v1/organisations", {"code": "council", "name": "Council", "kind": "local_authority"}),
        (
            "/v1/teams",
            {"code": "t1", "name": "T1", "place": "north", "host_organisation": "trust-a"},
        ),
        (
            "/v1/teams",
            {"code": "t2", "name": "T2", "place": "north", "host_organisation": "council"},
        ),
        (
            "/v1/pulses",
            {"key": "2026-10", "title": "Oct", "opens_on": "2026-10-01", "closes_on": "2026-10-31"},
        ),
        (
            "/v1/pulses",
            {"key": "2026-11", "title": "Nov", "opens_on": "2026-11-01", "closes_on": "2026-11-30"},
        ),
        (
            "/v1/pulses",
            {"key": "2026-12", "title": "Dec", "opens_on": "2026-12-01", "closes_on": "2026-12-31"},
        ),
    ]:
        assert client.post(path, json=body, headers=tenant.admin).status_code == 201


def answer(**overrides: Any) -> dict[str, Any]:
    """A valid response to the open pulse."""
    body: dict[str, Any] = {
        "pulse": "2026-11",
        "team": "t1",
        "scores": {"purpose": 4, "belief": 3.5, "support": 2.25},
        "role": "frontline",
        "profession": "nursing",
        "organisation": "council",
        "submitted_at": "2026-11-20T09:30:00Z",
    }
    body.update(overrides)
    return body


@pytest.fixture
def portal(client: TestClient, tenant: Tenant, db: Session) -> dict[str, str]:
    """A seeded system and a portal key (responses:write only)."""
    seed(client, tenant)
    return bearer(make_key(db, tenant.system, Scope.responses_write))


# The columns of a CSV import holding what answer() holds.
CSV = "pulse,team,purpose,belief,support,role,profession,organisation,submitted_at,external_id\n"


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Response)) or 0


def test_a_response_is_stored_and_its_scores_never_come_back(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    created = client.post("/v1/responses", json=answer(external_id="p-1"), headers=portal)
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "external_id", "pulse", "team", "submitted_at", "received_at"}
    assert body["external_id"] == "p-1" and body["pulse"] == "2026-11" and body["team"] == "t1"
    stored = db.scalars(select(Response)).one()
    assert (stored.purpose, stored.belief, stored.support, stored.new_ways_of_working) == (
        400,
        350,
        225,
        None,
    )
    listed = client.get("/v1/responses", headers=portal)
    (item,) = listed.json()["data"]
    assert set(item) == {"id", "external_id", "pulse", "team", "submitted_at", "received_at"}
    # The random id may hold any digits ("...-4225-..." once failed this): read the rest.
    rest = listed.text.replace(item["id"], "")
    assert "scores" not in rest and "225" not in rest and "2.25" not in rest


def test_the_same_response_posted_again_is_stored_once(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    first = client.post("/v1/responses", json=answer(external_id="p-1"), headers=portal)
    again = client.post("/v1/responses", json=answer(external_id="p-1"), headers=portal)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert count(db) == 1


def test_a_different_response_under_a_used_external_id_is_a_conflict(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    client.post("/v1/responses", json=answer(external_id="p-1"), headers=portal)
    changed = answer(external_id="p-1", scores={"purpose": 1})
    problem = assert_problem(client.post("/v1/responses", json=changed, headers=portal), 409)
    assert problem["errors"][0]["pointer"] == "/external_id"
    assert count(db) == 1


def test_responses_without_external_id_are_each_stored(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    for _ in range(3):
        assert client.post("/v1/responses", json=answer(), headers=portal).status_code == 201
    assert count(db) == 3


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"scores": {"purpose": 0.99}}, "/scores/purpose"),
        ({"scores": {"purpose": 5.01}}, "/scores/purpose"),
        ({"scores": {"purpose": 3.333}}, "/scores/purpose"),
        ({"scores": {"purpose": "4"}}, "/scores/purpose"),
        ({"scores": {"purpose": True}}, "/scores/purpose"),
        ({"scores": {"purpose": None}}, "/scores"),
        ({"scores": {}}, "/scores"),
        ({"scores": {"happiness": 4}}, "/scores/happiness"),
        ({"role": "chief"}, "/role"),
        ({"profession": "pilot"}, "/profession"),
        ({"organisation": "nowhere"}, "/organisation"),
        ({"team": "t9"}, "/team"),
        ({"pulse": "2025-01"}, "/pulse"),
        ({"submitted_at": "2026-11-20T09:30:00"}, "/submitted_at"),
        ({"submitted_at": "2027-01-01T00:00:00Z"}, "/submitted_at"),
        ({"external_id": "has space"}, "/external_id"),
        ({"external_id": "x" * 129}, "/external_id"),
        ({"name": "Jane Doe"}, "/name"),
        ({"comment": "my manager is awful"}, "/comment"),
    ],
)
def test_bad_responses_are_refused_with_a_pointer_and_store_nothing(
    client: TestClient, portal: dict[str, str], db: Session, change: dict[str, Any], pointer: str
) -> None:
    problem = assert_problem(
        client.post("/v1/responses", json=answer(**change), headers=portal), 422
    )
    assert pointer in [e["pointer"] for e in problem["errors"]]
    assert count(db) == 0


@pytest.mark.parametrize(
    "scores", [{"purpose": 1}, {"purpose": 5}, {"support": 2.5}, {"belief": 4.75}]
)
def test_boundary_scores_are_accepted(
    client: TestClient, portal: dict[str, str], scores: dict[str, float]
) -> None:
    assert (
        client.post("/v1/responses", json=answer(scores=scores), headers=portal).status_code == 201
    )


def test_only_the_pulse_and_team_are_required(client: TestClient, portal: dict[str, str]) -> None:
    body = {"pulse": "2026-11", "team": "t2", "scores": {"partner_relationships": 3}}
    assert client.post("/v1/responses", json=body, headers=portal).status_code == 201


@pytest.mark.parametrize(("pulse", "state"), [("2026-10", "closed"), ("2026-12", "scheduled")])
def test_a_portal_key_posts_only_to_open_pulses(
    client: TestClient, portal: dict[str, str], db: Session, pulse: str, state: str
) -> None:
    problem = assert_problem(
        client.post("/v1/responses", json=answer(pulse=pulse), headers=portal), 409
    )
    assert state in problem["detail"]
    batch = {"responses": [answer(), answer(pulse=pulse)]}
    problem = assert_problem(client.post("/v1/responses/batch", json=batch, headers=portal), 409)
    assert problem["errors"] == [
        {"pointer": "/responses/1/pulse", "detail": f"pulse '{pulse}' is {state}"}
    ]
    assert count(db) == 0


def test_a_pulse_closed_early_refuses_portal_posts(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session
) -> None:
    client.post("/v1/pulses/2026-11/close", headers=tenant.admin)
    assert_problem(client.post("/v1/responses", json=answer(), headers=portal), 409)
    assert count(db) == 0


def test_an_admin_key_may_backfill_a_closed_pulse_but_not_a_scheduled_one(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session
) -> None:
    assert (
        client.post("/v1/responses", json=answer(pulse="2026-10"), headers=tenant.admin).status_code
        == 201
    )
    assert_problem(
        client.post("/v1/responses", json=answer(pulse="2026-12"), headers=tenant.admin), 409
    )
    assert count(db) == 1


def test_a_batch_is_stored_whole(client: TestClient, portal: dict[str, str], db: Session) -> None:
    batch = {"responses": [answer(external_id=f"b-{i}") for i in range(50)]}
    response = client.post("/v1/responses/batch", json=batch, headers=portal)
    assert response.status_code == 201
    assert response.json() == {"created": 50, "already_stored": 0}
    assert count(db) == 50


def test_a_batch_with_one_bad_item_stores_nothing_and_names_every_bad_item(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    items = [answer(external_id=f"b-{i}") for i in range(30)]
    items[17]["scores"] = {"support": 9}
    items[4]["team"] = "nowhere"
    items[22]["colour"] = "blue"
    problem = assert_problem(
        client.post("/v1/responses/batch", json={"responses": items}, headers=portal), 422
    )
    assert [e["pointer"] for e in problem["errors"]] == [
        "/responses/4/team",
        "/responses/17/scores/support",
        "/responses/22/colour",
    ]
    assert count(db) == 0


def test_a_batch_that_clashes_with_a_stored_response_stores_nothing(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    client.post("/v1/responses", json=answer(external_id="b-3"), headers=portal)
    items = [answer(external_id=f"b-{i}") for i in range(6)]
    items[3]["scores"] = {"support": 1}
    problem = assert_problem(
        client.post("/v1/responses/batch", json={"responses": items}, headers=portal), 409
    )
    assert [e["pointer"] for e in problem["errors"]] == ["/responses/3/external_id"]
    assert count(db) == 1


def test_a_batch_reports_what_was_already_stored(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    first = [answer(external_id=f"b-{i}") for i in range(5)]
    client.post("/v1/responses/batch", json={"responses": first}, headers=portal)
    second = [*first[3:], answer(external_id="b-5"), answer(external_id="b-5")]
    response = client.post("/v1/responses/batch", json={"responses": second}, headers=portal)
    assert response.status_code == 201
    assert response.json() == {"created": 1, "already_stored": 3}
    again = client.post("/v1/responses/batch", json={"responses": first}, headers=portal)
    assert again.status_code == 200 and again.json() == {"created": 0, "already_stored": 5}
    assert count(db) == 6


def test_one_external_id_twice_in_a_batch_with_other_answers_is_refused(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    items = [answer(external_id="dup"), answer(external_id="dup", scores={"purpose": 1})]
    problem = assert_problem(
        client.post("/v1/responses/batch", json={"responses": items}, headers=portal), 422
    )
    assert problem["errors"][0]["pointer"] == "/responses/1/external_id"
    assert count(db) == 0


def test_a_batch_of_5000_is_accepted_and_5001_is_too_large(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    small = {"pulse": "2026-11", "team": "t1", "scores": {"support": 3}}
    too_many = {"responses": [small] * 5001}
    assert_problem(client.post("/v1/responses/batch", json=too_many, headers=portal), 413)
    assert count(db) == 0
    response = client.post(
        "/v1/responses/batch", json={"responses": [small] * 5000}, headers=portal
    )
    assert response.json() == {"created": 5000, "already_stored": 0}


def test_a_large_batch_stores_only_what_is_not_stored_yet(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    first = [answer(external_id=f"b-{i}") for i in range(60)]
    client.post("/v1/responses/batch", json={"responses": first}, headers=portal)
    second = [answer(external_id=f"b-{i}") for i in range(120)]
    response = client.post("/v1/responses/batch", json={"responses": second}, headers=portal)
    assert response.status_code == 201
    assert response.json() == {"created": 60, "already_stored": 60}
    assert count(db) == 120


def test_a_large_batch_that_clashes_with_a_stored_response_stores_nothing(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    client.post("/v1/responses", json=answer(external_id="b-99"), headers=portal)
    items = [answer(external_id=f"b-{i}") for i in range(100)]
    items[99]["scores"] = {"support": 1}
    problem = assert_problem(
        client.post("/v1/responses/batch", json={"responses": items}, headers=portal), 409
    )
    assert [e["pointer"] for e in problem["errors"]] == ["/responses/99/external_id"]
    assert count(db) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            answer(submitted_at="2026-11-20T09:30:00+01:00", external_id="p-1"),
            "aea00ac4c0a98d03606451668b9a7675430aaf25847a695b34fd9d10d129624a",
        ),
        (
            {"pulse": "2026-11", "team": "t1", "scores": {"partner_relationships": 1.05}},
            "020a11aeda849ce8fe600bfb01a99211a427faa0483c612901f457f177966dff",
        ),
    ],
)
def test_fingerprints_stay_those_already_stored(body: dict[str, Any], expected: str) -> None:
    item = ResponseCreate.model_validate(body)
    assert fingerprint(item, stored_scores(item)) == expected


def test_a_response_posted_and_then_imported_from_a_file_is_already_stored(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session, clock: Clock
) -> None:
    client.post("/v1/responses", json=answer(external_id="p-1"), headers=portal)
    line = "2026-11,t1,4,3.5,2.25,frontline,nursing,council,2026-11-20T09:30:00Z,p-1\n"
    report = import_responses(db, tenant.system.id, io.BytesIO((CSV + line).encode()), clock())
    assert (report.created, report.already_stored, report.error_count) == (0, 1, 0)
    assert count(db) == 1


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/responses"),
        ({"responses": []}, "/responses"),
        ({"responses": {"0": {}}}, "/responses"),
        ([], "/responses"),
        ({"responses": [], "extra": 1}, "/extra"),
        ({"responses": ["not an object"]}, "/responses/0"),
    ],
)
def test_malformed_batches_are_refused(
    client: TestClient, portal: dict[str, str], body: Any, pointer: str
) -> None:
    problem = assert_problem(client.post("/v1/responses/batch", json=body, headers=portal), 422)
    assert problem["errors"][0]["pointer"] == pointer


def test_a_batch_that_is_not_json_is_a_bad_request(
    client: TestClient, portal: dict[str, str]
) -> None:
    headers = {**portal, "Content-Type": "application/json"}
    assert_problem(client.post("/v1/responses/batch", content=b"{", headers=headers), 400)


def test_an_idempotency_key_replays_the_first_answer(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    batch = {"responses": [answer(), answer()]}
    headers = {**portal, "Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}
    first = client.post("/v1/responses/batch", json=batch, headers=headers)
    replay = client.post("/v1/responses/batch", json=batch, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json() == {"created": 2, "already_stored": 0}
    assert count(db) == 2


def test_an_idempotency_key_with_another_body_is_refused(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    headers = {**portal, "Idempotency-Key": "batch-1"}
    client.post("/v1/responses/batch", json={"responses": [answer()]}, headers=headers)
    other = {"responses": [answer(), answer()]}
    assert_problem(client.post("/v1/responses/batch", json=other, headers=headers), 422)
    assert count(db) == 1


def test_an_idempotency_key_is_kept_for_24_hours_per_system(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session, clock: Clock
) -> None:
    headers = {**portal, "Idempotency-Key": "batch-1"}
    batch = {"responses": [answer()]}
    client.post("/v1/responses/batch", json=batch, headers=headers)
    clock.now += timedelta(hours=23, minutes=59)
    assert client.post("/v1/responses/batch", json=batch, headers=headers).json()["created"] == 1
    assert count(db) == 1
    clock.now += timedelta(minutes=2)
    assert client.post("/v1/responses/batch", json=batch, headers=headers).json()["created"] == 1
    assert count(db) == 2
    assert db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_a_failed_batch_leaves_its_idempotency_key_free(
    client: TestClient, portal: dict[str, str], db: Session
) -> None:
    headers = {**portal, "Idempotency-Key": "batch-1"}
    bad = {"responses": [answer(team="nowhere")]}
    assert_problem(client.post("/v1/responses/batch", json=bad, headers=headers), 422)
    fixed = {"responses": [answer()]}
    assert client.post("/v1/responses/batch", json=fixed, headers=headers).status_code == 201
    assert count(db) == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, '"', "é".encode()])
def test_a_bad_idempotency_key_is_a_bad_request(
    client: TestClient, portal: dict[str, str], key: str | bytes
) -> None:
    headers = {**portal, "Idempotency-Key": key}
    assert_problem(
        client.post("/v1/responses/batch", json={"responses": [answer()]}, headers=headers), 400
    )


def test_responses_can_be_reconciled_by_pulse_team_and_external_id(
    client: TestClient, portal: dict[str, str]
) -> None:
    client.post("/v1/responses", json=answer(external_id="a"), headers=portal)
    client.post("/v1/responses", json=answer(external_id="b", team="t2"), headers=portal)
    client.post("/v1/responses", json=answer(external_id="c"), headers=portal)

    def ids(**params: str) -> list[str]:
        return [
            r["external_id"]
            for r in client.get("/v1/responses", params=params, headers=portal).json()["data"]
        ]

    assert sorted(ids()) == ["a", "b", "c"]
    assert sorted(ids(team="t1")) == ["a", "c"]
    assert ids(external_id="b") == ["b"]
    assert sorted(ids(pulse="2026-11")) == ["a", "b", "c"]
    assert ids(pulse="2026-10") == []  # a pulse of the system with no responses
    # A filter naming a pulse or team the system does not have is a 404 naming it.
    for name, code in (("pulse", "1999-01"), ("team", "nowhere")):
        missing = client.get("/v1/responses", params={name: code}, headers=portal)
        assert missing.status_code == 404, missing.text
        assert code in missing.json()["detail"]


def test_responses_are_paged_in_arrival_order(
    client: TestClient, portal: dict[str, str], clock: Clock
) -> None:
    for i in range(7):
        clock.now += timedelta(seconds=1)
        client.post("/v1/responses", json=answer(external_id=f"r{i}"), headers=portal)
    seen: list[str] = []
    url: str | None = "/v1/responses?limit=3"
    while url:
        body = client.get(url, headers=portal).json()
        seen += [r["external_id"] for r in body["data"]]
        url = body["next"]
    assert seen == [f"r{i}" for i in range(7)]


def test_an_admin_erases_a_response(
    client: TestClient, tenant: Tenant, portal: dict[str, str], db: Session
) -> None:
    stored = client.post("/v1/responses", json=answer(external_id="gone"), headers=portal).json()
    assert_problem(client.delete(f"/v1/responses/{stored['id']}", headers=portal), 403)
    erased = client.delete(f"/v1/responses/{stored['id']}", headers=tenant.admin)
    assert erased.status_code == 204 and erased.content == b""
    assert count(db) == 0
    assert_problem(client.delete(f"/v1/responses/{stored['id']}", headers=tenant.admin), 404)
    assert_problem(client.delete("/v1/responses/not-a-uuid", headers=tenant.admin), 400)
