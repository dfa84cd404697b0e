"""Scores, warning signs and the rulebook through the API, every number obeying section 3."""

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analysis.cells import CellKey
from app.models import WarningSign
from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.api.world import KIND_ORG, answers, post, structure
from tests.builders import assert_problem, bearer, make_key
from tests.conftest import Clock
from tests.unit.test_disclosure_principle import K, generate_system, smallest_derivable_groups


def flags(client: TestClient, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get("/v1/warning-signs", params={"limit": "1000", **params}, headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_a_collapse_in_support_is_flagged_for_the_latest_closed_pulse(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    found = flags(client, tenant.admin, team="t-fall", dimension="support")
    rules = {(f["rule"], f["severity"]) for f in found}
    assert ("falling", "red") in rules
    assert ("low_score", "red") in rules
    falling = next(f for f in found if f["rule"] == "falling")
    assert falling["pulse"] == "2026-10" and falling["place"] == "north"
    assert falling["rules_version"] == 1
    assert falling["message"].startswith("Support fell by ")
    assert "after adjusting for" in falling["message"]


def test_a_steady_team_carries_no_comparison_flag(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    comparison = {"falling", "sustained_decline", "hierarchy_gap", "below_place"}
    assert not [f for f in flags(client, tenant.admin, team="t-ok1") if f["rule"] in comparison]


def test_a_team_of_three_shows_no_scores_only_its_participation(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    found = flags(client, tenant.admin, team="t-tiny")
    assert {(f["rule"], f["severity"]) for f in found} == {
        ("insufficient_responses", "info"),
        ("low_participation", "amber"),  # 3 of a headcount of 20
    }
    scores = client.get(
        "/v1/teams/t-tiny/scores", params={"pulse": "2026-10"}, headers=tenant.admin
    ).json()
    entry = scores["data"][0]
    assert entry["participation"]["responses"] == 3
    for dimension in entry["dimensions"]:
        assert dimension["suppressed"] is True
        assert [dimension[k] for k in ("n", "mean", "sd", "ci_low", "ci_high")] == [None] * 5


def test_flag_ids_are_stable_and_filters_narrow(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    first = flags(client, tenant.admin)
    assert [f["id"] for f in flags(client, tenant.admin)] == [f["id"] for f in first]
    assert all(f["severity"] == "red" for f in flags(client, tenant.admin, severity="red"))
    assert all(f["scope"] == "place" for f in flags(client, tenant.admin, scope="place"))
    assert all(f["place"] == "south" for f in flags(client, tenant.admin, place="south"))
    assert flags(client, tenant.admin, pulse="2026-06", rule="falling") == []


def test_warning_signs_page_by_cursor(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    every = flags(client, tenant.admin)
    paged: list[str] = []
    url: str | None = "/v1/warning-signs?limit=2"
    while url:
        body = client.get(url, headers=tenant.admin).json()
        paged += [f["id"] for f in body["data"]]
        url = body["next"]
    assert paged == [f["id"] for f in every] and len(paged) > 2


@pytest.mark.parametrize(
    "params",
    [{"rule": "nonsense"}, {"severity": "purple"}, {"dimension": "joy"}, {"scope": "ward"}],
)
def test_bad_warning_sign_filters_are_a_bad_request(
    client: TestClient, tenant: Tenant, params: dict[str, str]
) -> None:
    assert_problem(client.get("/v1/warning-signs", params=params, headers=tenant.admin), 400)


def test_an_unknown_pulse_is_not_found(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    assert_problem(
        client.get("/v1/warning-signs", params={"pulse": "1999-01"}, headers=tenant.admin), 404
    )


def test_an_open_pulse_publishes_participation_only(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    body = {"key": "2026-11", "title": "Nov", "opens_on": "2026-11-01", "closes_on": "2026-11-30"}
    post(client, tenant.admin, "/v1/pulses", body)
    post(
        client,
        tenant.admin,
        "/v1/responses/batch",
        {"responses": answers("t-ok1", "2026-11", 9, 4, random.Random(1))},
    )
    entry = client.get(
        "/v1/teams/t-ok1/scores", params={"pulse": "2026-11"}, headers=tenant.admin
    ).json()["data"][0]
    assert entry["status"] == "open"
    assert entry["participation"] == {"responses": 9, "headcount": 20, "response_rate": 0.45}
    assert entry["dimensions"] == []
    assert flags(client, tenant.admin, pulse="2026-11") == []
    assert flags(client, tenant.admin)[0]["pulse"] == "2026-10"


def test_a_late_upload_recomputes_and_keeps_ids(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    before = {f["id"]: f for f in flags(client, tenant.admin, team="t-fall")}
    late = answers("t-fall", "2026-10", 40, 4.0, random.Random(9), role="frontline")
    post(client, tenant.admin, "/v1/responses/batch", {"responses": late})
    after = {f["id"]: f for f in flags(client, tenant.admin, team="t-fall")}
    assert after != before
    assert not any(f["rule"] == "falling" and f["severity"] == "red" for f in after.values())


def test_a_late_upload_to_an_earlier_pulse_moves_the_baseline(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    def baseline() -> float:
        found = flags(client, tenant.admin, team="t-fall", rule="falling", dimension="support")
        mean: float = found[0]["evidence"]["baseline_mean"]
        return mean

    before = baseline()
    low = answers("t-fall", "2026-09", 60, 2.2, random.Random(5), role="frontline")
    post(client, tenant.admin, "/v1/responses/batch", {"responses": low})
    assert baseline() < before - 0.5


def test_an_erasure_keeps_the_numbers_first_published_and_says_the_revision_was_withheld(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    # Publishing new numbers would give the erased person's scores as old - new (DESIGN 3.4).
    url = "/v1/teams/t-ok3/scores"
    before = client.get(url, params={"pulse": "2026-08"}, headers=tenant.admin).json()["data"][0]
    listed = client.get(
        "/v1/responses",
        params={"pulse": "2026-08", "team": "t-ok3", "limit": 1},
        headers=tenant.admin,
    ).json()["data"]
    assert (
        client.delete(f"/v1/responses/{listed[0]['id']}", headers=tenant.admin).status_code == 204
    )
    after = client.get(url, params={"pulse": "2026-08"}, headers=tenant.admin).json()["data"][0]

    assert before["dimensions"][0]["n"] is not None
    assert after["participation"]["responses"] == before["participation"]["responses"] - 1
    first, now = before["dimensions"][0], after["dimensions"][0]
    assert {k: now[k] for k in ("n", "mean", "sd", "published_at")} == {
        k: first[k] for k in ("n", "mean", "sd", "published_at")
    }
    assert first["revision_withheld"] is False
    assert now["revision_withheld"] is True


def test_place_scores_sum_their_teams(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    place = client.get(
        "/v1/places/north/scores", params={"pulse": "2026-10"}, headers=tenant.admin
    ).json()
    entry = place["data"][0]
    assert entry["scope"] == "place" and entry["team"] is None
    assert entry["participation"] == {"responses": 45, "headcount": 60, "response_rate": 0.75}
    support = next(d for d in entry["dimensions"] if d["dimension"] == "support")
    assert support["n"] == 45 and support["suppressed"] is False
    assert support["ci_low"] <= support["mean"] <= support["ci_high"]


def test_scores_need_the_insights_scope(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any]
) -> None:
    portal = bearer(make_key(db, tenant.system, Scope.responses_write))
    assert_problem(client.get("/v1/teams/t-ok1/scores", headers=portal), 403)
    reader = bearer(make_key(db, tenant.system, Scope.insights_read))
    assert client.get("/v1/teams/t-ok1/scores", headers=reader).status_code == 200
    assert_problem(client.get("/v1/teams/nope/scores", headers=reader), 404)


def test_the_rulebook_starts_at_the_defaults(client: TestClient, tenant: Tenant) -> None:
    body = client.get("/v1/rules", headers=tenant.admin).json()
    assert body["version"] == 1
    assert body["rules"]["low_score"] == {"enabled": True, "amber_below": 3.0, "red_below": 2.5}
    assert body["rules"]["falling"]["amber_fall"] == 0.5


def test_changing_the_rules_bumps_the_version_and_reaches_the_flags(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    change = {"version": 1, "rules": {"low_score": {"enabled": False}}}
    response = client.put("/v1/rules", json=change, headers=tenant.admin)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert response.json()["rules"]["low_score"]["enabled"] is False
    found = flags(client, tenant.admin)
    assert found and all(f["rules_version"] == 2 for f in found)
    assert not [f for f in found if f["rule"] == "low_score"]
    stale = client.put("/v1/rules", json=change, headers=tenant.admin)
    assert_problem(stale, 409)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"rules": {"falling": {"red_fall": 0.2}}}, "/rules/falling/red_fall"),
        ({"rules": {"low_score": {"amber_below": 7}}}, "/rules/low_score/amber_below"),
        (
            {"rules": {"low_score": {"red_below": 2.9, "amber_below": 2.0}}},
            "/rules/low_score/red_below",
        ),
        ({"rules": {"made_up": {}}}, "/rules/made_up"),
        ({"rules": {"falling": {"enabled": "yes please"}}}, "/rules/falling/enabled"),
        ({"rules": {"falling": {"amber_rise": 1}}}, "/rules/falling/amber_rise"),
        ({}, "/rules"),
    ],
)
def test_an_invalid_rulebook_is_refused_with_a_pointer(
    client: TestClient, tenant: Tenant, body: dict[str, Any], pointer: str
) -> None:
    problem = assert_problem(client.put("/v1/rules", json=body, headers=tenant.admin), 422)
    assert pointer in [e["pointer"] for e in problem["errors"]]
    assert client.get("/v1/rules", headers=tenant.admin).json()["version"] == 1


def published_cells(
    client: TestClient, headers: dict[str, str], teams: dict[str, str]
) -> dict[str, set[CellKey]]:
    """Every non-suppressed cell the score endpoints show for pulse 2026-10, per dimension."""
    shown: dict[str, set[CellKey]] = {}
    subjects = [("team", t) for t in teams] + [("place", p) for p in set(teams.values())]
    for scope, code in subjects:
        path = f"/v1/{scope}s/{code}/scores"
        entry = client.get(path, params={"pulse": "2026-10"}, headers=headers).json()["data"][0]
        for dimension in entry["dimensions"]:
            cells = shown.setdefault(dimension["dimension"], set())
            if not dimension["suppressed"]:
                cells.add(CellKey(scope, code))
            for part in dimension["breakdowns"]:
                if not part["suppressed"]:
                    cells.add(CellKey(scope, code, part["segment_type"], part["segment"]))
                else:
                    assert [part[k] for k in ("n", "mean", "sd", "ci_low", "ci_high")] == [None] * 5
    return shown


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_sum_or_difference_of_published_scores_reveals_a_small_group(
    client: TestClient, tenant: Tenant, clock: Clock, seed: int
) -> None:
    clock.now = clock.now.replace(year=2026, month=11, day=25)
    respondents = generate_system(seed)
    teams = {team: place for place, team, *_ in respondents}
    structure(client, tenant.admin, teams)
    items = []
    for _place, team, group, profession, kind in respondents:
        item: dict[str, Any] = {"pulse": "2026-10", "team": team, "scores": {"support": 3}}
        if group is not None:
            item["role"] = "frontline" if group == "frontline" else "manager"
        if profession is not None:
            item["profession"] = profession
        if kind is not None:
            item["organisation"] = KIND_ORG[kind]
        items.append(item)
    post(client, tenant.admin, "/v1/responses/batch", {"responses": items})

    shown = published_cells(client, tenant.admin, teams)

    assert shown["support"], "the system publishes something"
    assert smallest_derivable_groups(respondents, shown["support"], K) == []


def test_the_typed_evidence_of_every_flag_shows_every_stored_number(
    client: TestClient, tenant: Tenant, world: dict[str, Any], db: Session
) -> None:
    served = {f["id"]: f for f in flags(client, tenant.admin)}
    kept = {f.id: f.evidence for f in db.scalars(select(WarningSign))}
    assert served and set(served) <= set(kept)
    for flag_id, flag in served.items():
        for name, value in kept[flag_id].items():
            assert flag["evidence"][name] == value, (flag["rule"], name)
        # Only the adoption window's defaults are added to what is kept.
        assert set(flag["evidence"]) - set(kept[flag_id]) <= {"adoption_window", "formed_on"}
    comparison = next(f for f in served.values() if f["rule"] == "falling")
    assert {"statistic", "df", "p", "p_adjusted", "comparisons", "baseline_sd"} <= set(
        comparison["evidence"]
    )
