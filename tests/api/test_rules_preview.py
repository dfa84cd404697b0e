"""POST /v1/rules/preview: the flags a rules body would raise, from kept cells, nothing saved."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, RuleSet, ScoreCell, WarningSign
from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.builders import assert_problem, bearer, make_key

STRICT = {"rules": {"low_score": {"amber_below": 4.5, "red_below": None}}}


def listed(client: TestClient, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get("/v1/warning-signs", params={"limit": "1000", **params}, headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def stored(db: Session) -> tuple[Any, ...]:
    """Everything a preview must leave alone: kept flags and cells, the rulebook, the audit."""
    db.expire_all()
    flags = sorted(
        (f.id, f.severity, f.message, repr(f.evidence), f.rules_version, f.updated_at)
        for f in db.scalars(select(WarningSign))
    )
    cells = db.scalar(select(func.count()).select_from(ScoreCell))
    rules = [(r.version, repr(r.rules)) for r in db.scalars(select(RuleSet))]
    audit = db.scalar(select(func.count()).select_from(AuditEvent))
    return tuple(flags), cells, tuple(rules), audit


def preview(
    client: TestClient, headers: dict[str, str], body: Any, **params: str
) -> dict[str, Any]:
    response = client.post("/v1/rules/preview", json=body, params=params, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_preview_of_the_rules_in_force_answers_the_kept_flags(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    kept = listed(client, tenant.admin)

    answer = preview(client, tenant.admin, {"rules": {}})

    assert (answer["pulse"], answer["based_on_version"]) == ("2026-10", 1)
    strip = [{k: v for k, v in f.items() if k != "rules_version"} for f in answer["data"]]
    assert sorted(strip, key=lambda f: f["id"]) == sorted(
        ({k: v for k, v in f.items() if k != "rules_version"} for f in kept),
        key=lambda f: f["id"],
    )
    assert {f["rules_version"] for f in answer["data"]} == {2}


def test_a_preview_shows_what_a_change_would_flag_and_changes_nothing(
    client: TestClient, tenant: Tenant, world: dict[str, Any], db: Session
) -> None:
    listed(client, tenant.admin)  # the pulse's results are kept
    before = stored(db)

    answer = preview(client, tenant.admin, STRICT)

    steady = [f for f in answer["data"] if f["team"] == "t-ok1" and f["rule"] == "low_score"]
    assert steady and all(f["evidence"]["amber_below"] == 4.5 for f in steady)
    assert not [f for f in listed(client, tenant.admin, team="t-ok1") if f["rule"] == "low_score"]
    assert stored(db) == before
    assert client.get("/v1/rules", headers=tenant.admin).json()["version"] == 1


def test_a_preview_reads_published_cells_only(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    # t-tiny has 3 responses a pulse: its cells are withheld, so even rules that would flag
    # any mean or spread say nothing about them.
    body = {
        "rules": {
            "low_score": {"amber_below": 5.0, "red_below": None},
            "polarised": {"amber_sd": 0.01},
            "below_place": {"amber_gap": 0.01},
        }
    }
    listed(client, tenant.admin)

    answer = preview(client, tenant.admin, body)

    tiny = {f["rule"] for f in answer["data"] if f["team"] == "t-tiny"}
    assert tiny == {"insufficient_responses", "low_participation"}
    assert {f["rule"] for f in answer["data"] if f["team"] == "t-ok1"} >= {"low_score", "polarised"}


def test_an_earlier_pulse_is_previewed_by_key(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    listed(client, tenant.admin, pulse="2026-08")

    answer = preview(client, tenant.admin, {"rules": {}}, pulse="2026-08")

    assert answer["pulse"] == "2026-08"
    assert all(f["pulse"] == "2026-08" for f in answer["data"])


def test_a_preview_needs_the_insights_scope(
    client: TestClient, tenant: Tenant, world: dict[str, Any], db: Session
) -> None:
    reader = bearer(make_key(db, tenant.system, Scope.insights_read))
    feeds = bearer(make_key(db, tenant.system, Scope.feeds_read))
    listed(client, tenant.admin)

    assert preview(client, reader, STRICT)["pulse"] == "2026-10"
    assert_problem(client.post("/v1/rules/preview", json=STRICT, headers=feeds), 403)
    assert_problem(client.post("/v1/rules/preview", json=STRICT), 401)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"rules": {"falling": {"red_fall": 0.1}}}, "/rules/falling/red_fall"),
        ({"rules": {"nonsense": {}}}, "/rules/nonsense"),
        ({"rules": {"low_score": {"amber_below": "3"}}}, "/rules/low_score/amber_below"),
        ({"rules": {}, "extra": 1}, "/extra"),
    ],
)
def test_a_bad_rules_body_is_refused_with_a_pointer_and_changes_nothing(
    client: TestClient,
    tenant: Tenant,
    world: dict[str, Any],
    db: Session,
    body: dict[str, Any],
    pointer: str,
) -> None:
    listed(client, tenant.admin)
    before = stored(db)

    problem = assert_problem(client.post("/v1/rules/preview", json=body, headers=tenant.admin), 422)

    assert pointer in [e["pointer"] for e in problem["errors"]]
    assert stored(db) == before


def test_an_unknown_pulse_or_a_stale_version_is_refused(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    unknown = client.post(
        "/v1/rules/preview", json=STRICT, params={"pulse": "nope"}, headers=tenant.admin
    )
    assert_problem(unknown, 404)
    stale = client.post("/v1/rules/preview", json={**STRICT, "version": 7}, headers=tenant.admin)
    assert "version 1" in assert_problem(stale, 409)["detail"]


def test_a_pulse_whose_results_are_not_kept_yet_is_retried_later(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    # No read has asked for the pulse's results, and no publisher runs in the tests.
    response = client.post("/v1/rules/preview", json=STRICT, headers=tenant.admin)

    assert assert_problem(response, 503)["type"].endswith("results-computing")
