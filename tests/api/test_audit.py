"""The audit trail: admin actions with their change, every use of a key, per system, purged."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import key_secret
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.migrate import upgrade
from app.models import ApiKey, AuditEvent
from app.services import audit
from app.services.keys import create_key, create_system
from app.settings import Settings
from app.usage import KeyUseRecorder
from app.vocab import DIMENSIONS, AuditAction, AuditTarget, Scope
from tests.api.conftest import Tenant
from tests.api.test_responses import answer, seed
from tests.builders import T0, assert_problem, bearer, make_key
from tests.conftest import Clock

Row = tuple[str, str, str, int]


def key_id(db: Session, tenant: Tenant) -> uuid.UUID:
    """The id of the tenant's admin key."""
    token = tenant.admin["Authorization"].removeprefix("Bearer ")
    return db.scalars(select(ApiKey.id).where(ApiKey.prefix == token[:12])).one()


def admin_actions(db: Session, system_id: int) -> list[AuditEvent]:
    """The system's events other than uses of keys, in order."""
    uses = (AuditAction.key_use, AuditAction.key_refused)
    stmt = select(AuditEvent).where(AuditEvent.system_id == system_id)
    stmt = stmt.where(AuditEvent.action.not_in(uses)).order_by(AuditEvent.id)
    return list(db.scalars(stmt))


def flush(client: TestClient) -> None:
    """Write the key uses the app has buffered (its recorder thread is off in tests)."""
    app: FastAPI = client.app  # type: ignore[assignment]
    app.state.key_uses.flush()


def listed(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit-events", params=params, headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def act_on_everything(client: TestClient, tenant: Tenant) -> dict[str, str]:
    """Every kind of admin action once; the ids they created."""
    seed(client, tenant)
    admin = tenant.admin
    assert client.patch("/v1/places/north", json={"name": "N"}, headers=admin).status_code == 200
    org = client.patch("/v1/organisations/council", json={"name": "C"}, headers=admin)
    assert org.status_code == 200
    assert client.patch("/v1/teams/t1", json={"headcount": 9}, headers=admin).status_code == 200
    pulse = client.patch("/v1/pulses/2026-12", json={"title": "December"}, headers=admin)
    assert pulse.status_code == 200
    assert client.post("/v1/pulses/2026-11/close", headers=admin).status_code == 200
    system = client.patch("/v1/system", json={"min_group_size": 3}, headers=admin)
    assert system.status_code == 200
    rules = {"rules": {"low_score": {"enabled": False}}}
    assert client.put("/v1/rules", json=rules, headers=admin).status_code == 200
    key = client.post("/v1/keys", json={"scopes": ["feeds:read"]}, headers=admin).json()
    assert client.post(f"/v1/keys/{key['id']}/revoke", headers=admin).status_code == 200
    late = client.post("/v1/responses", json=answer(pulse="2026-10"), headers=admin)
    assert late.status_code == 201
    assert client.delete(f"/v1/responses/{late.json()['id']}", headers=admin).status_code == 204
    batch = {"responses": [answer(pulse="2026-10"), answer(pulse="2026-11")]}
    assert client.post("/v1/responses/batch", json=batch, headers=admin).status_code == 201
    return {"key": key["id"], "key_secret": key["key"], "response": late.json()["id"]}


def test_each_admin_action_leaves_one_record_with_its_key_action_and_target(
    client: TestClient, tenant: Tenant, db: Session, clock: Clock
) -> None:
    made = act_on_everything(client, tenant)
    events = admin_actions(db, tenant.system.id)
    assert [(e.action, e.target_kind, e.target_code, e.status) for e in events] == [
        ("place.create", "place", "north", 201),
        ("organisation.create", "organisation", "trust-a", 201),
        ("organisation.create", "organisation", "council", 201),
        ("team.create", "team", "t1", 201),
        ("team.create", "team", "t2", 201),
        ("pulse.create", "pulse", "2026-10", 201),
        ("pulse.create", "pulse", "2026-11", 201),
        ("pulse.create", "pulse", "2026-12", 201),
        ("place.update", "place", "north", 200),
        ("organisation.update", "organisation", "council", 200),
        ("team.update", "team", "t1", 200),
        ("pulse.update", "pulse", "2026-12", 200),
        ("pulse.close", "pulse", "2026-11", 200),
        ("system.update", "system", "north-ics", 200),
        ("rules.replace", "rules", "2", 200),
        ("key.create", "key", made["key"], 201),
        ("key.revoke", "key", made["key"], 200),
        ("responses.late_upload", "pulse", "2026-10", 201),
        ("response.erase", "response", made["response"], 204),
        # The batch went into both pulses, closed by then; it stored two responses.
        ("responses.late_upload", "pulse", "2026-10", 201),
        ("responses.late_upload", "pulse", "2026-11", 201),
    ]
    assert {e.key_id for e in events} == {key_id(db, tenant)}
    assert {e.occurred_at for e in events} == {clock.now}
    details = {e.action: e.detail for e in events}
    assert details["team.update"] == {"fields": ["headcount"]}
    assert details["system.update"] == {"fields": ["min_group_size"]}
    assert details["responses.late_upload"] == {"responses": 2}
    assert details["place.create"] is None


def test_an_action_that_fails_leaves_no_record_but_its_use_is_recorded(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    seed(client, tenant)
    before = len(admin_actions(db, tenant.system.id))
    admin = tenant.admin
    taken = client.post("/v1/places", json={"code": "north", "name": "Again"}, headers=admin)
    assert_problem(taken, 409)
    assert_problem(client.patch("/v1/places/nowhere", json={"name": "N"}, headers=admin), 404)
    assert_problem(client.put("/v1/rules", json={"version": 7, "rules": {}}, headers=admin), 409)
    bad = {"responses": [answer(pulse="2026-10"), answer(team="nowhere")]}
    assert_problem(client.post("/v1/responses/batch", json=bad, headers=admin), 422)
    assert len(admin_actions(db, tenant.system.id)) == before
    flush(client)
    refused = listed(client, admin, action="key.use", target_code="POST /v1/places")
    assert [e["status"] for e in refused] == [201, 409]


def test_no_record_carries_a_secret_an_answer_or_a_score(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    made = act_on_everything(client, tenant)
    client.get("/v1/system", headers=bearer(made["key_secret"]))  # revoked: refused
    client.get("/v1/system", headers=bearer("pulse_not-a-key"))
    flush(client)
    rows = db.execute(select(AuditEvent.__table__)).all()
    assert len(rows) > 40
    dump = repr([tuple(row) for row in rows])
    secrets = [
        made["key_secret"],
        tenant.admin["Authorization"].removeprefix("Bearer "),
        "pulse_not-a-key",
        key_secret(db, Settings()),
        *db.scalars(select(ApiKey.secret_hash)),
    ]
    assert not [s for s in secrets if s in dump]
    assert not [s for s in secrets if s[:12] in dump]  # not even a key's prefix
    for answered in (*DIMENSIONS, "scores", "frontline", "nursing", "2026-11-20"):
        assert answered not in dump


def test_reads_are_recorded_after_the_request_not_in_its_transaction(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    portal = make_key(db, tenant.system, Scope.responses_write)
    assert client.get("/v1/places", headers=tenant.admin).status_code == 200
    assert client.get("/v1/keys", headers=bearer(portal)).status_code == 403
    assert db.scalar(select(AuditEvent.id)) is None  # buffered, not written by the reads
    flush(client)
    uses = listed(client, tenant.admin, action="key.use")
    assert [(e["target_code"], e["status"]) for e in uses] == [
        ("GET /v1/places", 200),
        ("GET /v1/keys", 403),
    ]
    assert uses[0]["key_id"] == str(key_id(db, tenant)) and uses[1]["key_id"] != uses[0]["key_id"]
    assert {e["target_kind"] for e in uses} == {"route"}


def test_refused_keys_are_recorded_with_the_key_id_only_when_the_key_was_found(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    created = client.post("/v1/keys", json={"scopes": ["admin"]}, headers=tenant.admin).json()
    client.post(f"/v1/keys/{created['id']}/revoke", headers=tenant.admin)
    assert_problem(client.get("/v1/teams/t1", headers=bearer(created["key"])), 401)
    assert_problem(client.get("/v1/teams/t1", headers=bearer("pulse_unknown")), 401)
    assert_problem(client.get("/v1/teams/t1"), 401)
    flush(client)
    refused = listed(client, tenant.admin, action="key.refused")
    assert [(e["key_id"], e["target_code"], e["status"]) for e in refused] == [
        (created["id"], "GET /v1/teams/{code}", 401)
    ]
    anonymous = db.scalars(select(AuditEvent).where(AuditEvent.system_id.is_(None))).all()
    assert [(e.action, e.key_id, e.status) for e in anonymous] == [
        ("key.refused", None, 401),
        ("key.refused", None, 401),
    ]


def test_events_are_filtered_and_paged(
    client: TestClient, tenant: Tenant, db: Session, clock: Clock
) -> None:
    for n in range(5):
        clock.now = T0 + timedelta(days=n)
        client.post("/v1/places", json={"code": f"p{n}", "name": f"P{n}"}, headers=tenant.admin)
    client.patch("/v1/places/p3", json={"name": "Three"}, headers=tenant.admin)
    flush(client)
    admin = tenant.admin
    everything = listed(client, admin, limit=1000)
    paged, params = [], {"limit": 2}
    while True:
        body = client.get("/v1/audit-events", params=params, headers=admin).json()
        paged += body["data"]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert paged == everything and len(everything) == 12  # 6 actions and 6 uses so far
    creates = listed(client, admin, action="place.create")
    assert [e["target_code"] for e in creates] == ["p0", "p1", "p2", "p3", "p4"]
    on_p3 = listed(client, admin, target_kind="place", target_code="p3")
    assert [e["action"] for e in on_p3] == ["place.create", "place.update"]
    window = {"occurred_from": (T0 + timedelta(days=1)).isoformat()}
    window["occurred_to"] = (T0 + timedelta(days=3)).isoformat()
    between = listed(client, admin, action="place.create", **window)
    assert [e["target_code"] for e in between] == ["p1", "p2"]
    mine = listed(client, admin, key_id=str(key_id(db, tenant)), action="place.update")
    assert len(mine) == 1 and listed(client, admin, key_id=str(uuid.uuid4())) == []


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "bm9wZQ"},
        {"key_id": "not-a-uuid"},
        {"action": "place.explode"},
        {"occurred_from": "2026-01-01T00:00:00"},
        {"occurred_to": "0"},
    ],
)
def test_bad_filters_are_a_400(client: TestClient, tenant: Tenant, params: dict[str, str]) -> None:
    assert_problem(client.get("/v1/audit-events", params=params, headers=tenant.admin), 400)


def test_another_systems_events_are_invisible(
    client: TestClient, tenant: Tenant, other: Tenant, db: Session
) -> None:
    client.post("/v1/places", json={"code": "south", "name": "S"}, headers=other.admin)
    client.get("/v1/places", headers=other.admin)
    flush(client)
    assert listed(client, tenant.admin) == []
    assert listed(client, tenant.admin, key_id=str(key_id(db, other))) == []
    assert len(listed(client, other.admin)) == 3  # the create, its use, the read


@pytest.mark.parametrize("scope", [Scope.responses_write, Scope.insights_read, Scope.feeds_read])
def test_only_admin_keys_read_the_trail(
    client: TestClient, tenant: Tenant, db: Session, scope: Scope
) -> None:
    key = make_key(db, tenant.system, scope)
    assert_problem(client.get("/v1/audit-events", headers=bearer(key)), 403)


def test_events_past_their_retention_are_purged(
    client: TestClient, tenant: Tenant, db: Session, clock: Clock
) -> None:
    client.post("/v1/places", json={"code": "old", "name": "Old"}, headers=tenant.admin)
    clock.now += timedelta(days=300)
    client.post("/v1/places", json={"code": "new", "name": "New"}, headers=tenant.admin)
    flush(client)
    clock.now += timedelta(days=101)  # the first is 401 days old, the second 101
    app: FastAPI = client.app  # type: ignore[assignment]
    assert app.state.key_uses.purge() == 2  # the first create and its use
    left = listed(client, tenant.admin, action="place.create")
    assert [e["target_code"] for e in left] == ["new"]


def test_the_buffer_is_bounded_and_keeps_what_a_failed_write_could_not_store(
    db: Session, tenant: Tenant, clock: Clock
) -> None:
    broken = True

    def sessions() -> Session:
        if broken:
            raise OSError("database unreachable")
        return Session(bind=db.connection())

    recorder = KeyUseRecorder(sessions, clock, capacity=3, flush_interval=0, retention_days=400)
    event = audit.Event(
        tenant.system.id, None, AuditAction.key_use, AuditTarget.route, "GET /v1/system", 200, T0
    )
    for _ in range(4):
        recorder.add(event)
    assert recorder.dropped == 1
    assert recorder.flush() == 0  # failed: kept for the next try
    broken = False
    assert recorder.flush() == 3 and recorder.flush() == 0
    assert len(db.scalars(select(AuditEvent.id)).all()) == 3


def test_buffered_uses_are_written_when_the_service_stops(scratch_url: str) -> None:
    upgrade(scratch_url)
    engine = make_engine(scratch_url)
    with make_sessionmaker(engine)() as session, session.begin():
        system = create_system(session, "east-ics", "East", T0)
        secret = key_secret(session, Settings())
        _row, key = create_key(session, system.id, secret, [Scope.admin], T0)
    settings = Settings(database_url=scratch_url, publish_interval=0, audit_flush_interval=3600)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        assert client.get("/v1/system", headers=bearer(key)).status_code == 200
    with engine.connect() as conn:
        written = conn.execute(select(AuditEvent.action, AuditEvent.target_code)).all()
    engine.dispose()
    assert [tuple(row) for row in written] == [("key.use", "GET /v1/system")]
