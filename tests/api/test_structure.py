"""Places, organisations, teams, pulses and the system, through the API."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Tenant
from tests.builders import assert_problem
from tests.conftest import Clock


def seed(client: TestClient, headers: dict[str, str]) -> None:
    """A place, an organisation and a team."""
    for path, body in [
        ("/v1/places", {"code": "north", "name": "North"}),
        ("/v1/organisations", {"code": "trust-a", "name": "Trust A", "kind": "nhs_trust"}),
        (
            "/v1/teams",
            {"code": "t1", "name": "Team 1", "place": "north", "host_organisation": "trust-a"},
        ),
    ]:
        assert client.post(path, json=body, headers=headers).status_code == 201


def test_system_shows_its_settings_with_defaults(client: TestClient, tenant: Tenant) -> None:
    body = client.get("/v1/system", headers=tenant.admin).json()
    assert body["slug"] == "north-ics"
    assert body["min_group_size"] == 5
    assert body["adoption_months"] == 12


def test_system_patch_changes_only_the_given_fields(client: TestClient, tenant: Tenant) -> None:
    response = client.patch("/v1/system", json={"min_group_size": 7}, headers=tenant.admin)
    assert response.status_code == 200
    assert response.json()["min_group_size"] == 7
    assert response.json()["name"] == "north-ics ICS"


@pytest.mark.parametrize(
    "body",
    [
        {"min_group_size": 2},
        {"min_group_size": "five"},
        {"adoption_months": -1},
        {"name": None},
        {"name": ""},
        {"name": "   "},
        {"name": "line\nbreak"},
        {"slug": "renamed"},
    ],
)
def test_system_patch_refuses_bad_values_and_changes_nothing(
    client: TestClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    before = client.get("/v1/system", headers=tenant.admin).json()
    problem = assert_problem(client.patch("/v1/system", json=body, headers=tenant.admin), 422)
    assert problem["errors"][0]["pointer"] == "/" + next(iter(body))
    assert client.get("/v1/system", headers=tenant.admin).json() == before


def test_place_is_created_listed_fetched_and_renamed(client: TestClient, tenant: Tenant) -> None:
    created = client.post(
        "/v1/places", json={"code": "north", "name": "North"}, headers=tenant.admin
    )
    assert created.status_code == 201
    assert created.json()["code"] == "north"
    listed = client.get("/v1/places", headers=tenant.admin).json()
    assert [p["code"] for p in listed["data"]] == ["north"]
    assert listed["next"] is None and listed["next_cursor"] is None
    renamed = client.patch(
        "/v1/places/north", json={"name": "North Tyneside"}, headers=tenant.admin
    )
    assert renamed.json()["name"] == "North Tyneside"
    assert client.get("/v1/places/north", headers=tenant.admin).json()["name"] == "North Tyneside"


@pytest.mark.parametrize("code", ["North", "-north", "no rth", "x" * 65, "", "nörth", "a/b"])
def test_bad_codes_are_refused(client: TestClient, tenant: Tenant, code: str) -> None:
    problem = assert_problem(
        client.post("/v1/places", json={"code": code, "name": "X"}, headers=tenant.admin), 422
    )
    assert problem["errors"][0]["pointer"] == "/code"
    assert client.get("/v1/places", headers=tenant.admin).json()["data"] == []


@pytest.mark.parametrize("code", ["a", "0", "a.b_c-d", "x" * 64])
def test_good_codes_are_accepted(client: TestClient, tenant: Tenant, code: str) -> None:
    response = client.post("/v1/places", json={"code": code, "name": "X"}, headers=tenant.admin)
    assert response.status_code == 201
    assert client.get(f"/v1/places/{code}", headers=tenant.admin).json()["code"] == code


def test_duplicate_code_is_a_conflict(client: TestClient, tenant: Tenant) -> None:
    body = {"code": "north", "name": "North"}
    client.post("/v1/places", json=body, headers=tenant.admin)
    problem = assert_problem(client.post("/v1/places", json=body, headers=tenant.admin), 409)
    assert "north" in problem["detail"]


def test_the_same_code_may_be_used_by_two_systems(
    client: TestClient, tenant: Tenant, other: Tenant
) -> None:
    body = {"code": "north", "name": "North"}
    assert client.post("/v1/places", json=body, headers=tenant.admin).status_code == 201
    assert client.post("/v1/places", json=body, headers=other.admin).status_code == 201


def test_unknown_fields_are_refused(client: TestClient, tenant: Tenant) -> None:
    body = {"code": "north", "name": "North", "email": "someone@example.org"}
    problem = assert_problem(client.post("/v1/places", json=body, headers=tenant.admin), 422)
    assert problem["errors"] == [{"pointer": "/email", "detail": "Extra inputs are not permitted"}]


def test_organisation_kind_must_be_one_of_the_kinds(client: TestClient, tenant: Tenant) -> None:
    body = {"code": "o", "name": "O", "kind": "charity"}
    problem = assert_problem(client.post("/v1/organisations", json=body, headers=tenant.admin), 422)
    assert problem["errors"][0]["pointer"] == "/kind"


def test_organisation_kind_can_be_changed(client: TestClient, tenant: Tenant) -> None:
    body = {"code": "o", "name": "O", "kind": "other"}
    client.post("/v1/organisations", json=body, headers=tenant.admin)
    patched = client.patch(
        "/v1/organisations/o", json={"kind": "voluntary_sector"}, headers=tenant.admin
    )
    assert patched.json()["kind"] == "voluntary_sector"


def test_team_names_its_place_and_host_by_code(client: TestClient, tenant: Tenant) -> None:
    seed(client, tenant.admin)
    team = client.get("/v1/teams/t1", headers=tenant.admin).json()
    assert team["place"] == "north"
    assert team["host_organisation"] == "trust-a"
    assert team["formed_on"] is None and team["headcount"] is None


@pytest.mark.parametrize("field", ["place", "host_organisation"])
def test_team_with_an_unknown_reference_is_refused_naming_the_field(
    client: TestClient, tenant: Tenant, field: str
) -> None:
    seed(client, tenant.admin)
    body = {"code": "t2", "name": "T2", "place": "north", "host_organisation": "trust-a"}
    body[field] = "missing"
    problem = assert_problem(client.post("/v1/teams", json=body, headers=tenant.admin), 422)
    assert problem["errors"][0]["pointer"] == f"/{field}"
    assert assert_problem(client.get("/v1/teams/t2", headers=tenant.admin), 404)


def test_team_cannot_reference_another_systems_place(
    client: TestClient, tenant: Tenant, other: Tenant
) -> None:
    seed(client, tenant.admin)
    client.post(
        "/v1/organisations", json={"code": "o", "name": "O", "kind": "other"}, headers=other.admin
    )
    body = {"code": "t9", "name": "T9", "place": "north", "host_organisation": "o"}
    problem = assert_problem(client.post("/v1/teams", json=body, headers=other.admin), 422)
    assert problem["errors"][0]["pointer"] == "/place"


def test_team_patch_sets_and_clears_optional_fields(client: TestClient, tenant: Tenant) -> None:
    seed(client, tenant.admin)
    set_ = client.patch(
        "/v1/teams/t1", json={"headcount": 14, "formed_on": "2026-05-01"}, headers=tenant.admin
    ).json()
    assert set_["headcount"] == 14 and set_["formed_on"] == "2026-05-01"
    cleared = client.patch("/v1/teams/t1", json={"headcount": None}, headers=tenant.admin).json()
    assert cleared["headcount"] is None and cleared["formed_on"] == "2026-05-01"


def test_team_moves_to_another_place(client: TestClient, tenant: Tenant) -> None:
    seed(client, tenant.admin)
    client.post("/v1/places", json={"code": "south", "name": "South"}, headers=tenant.admin)
    moved = client.patch("/v1/teams/t1", json={"place": "south"}, headers=tenant.admin).json()
    assert moved["place"] == "south"
    listed = client.get("/v1/teams", params={"place": "south"}, headers=tenant.admin).json()
    assert [t["code"] for t in listed["data"]] == ["t1"]
    assert (
        client.get("/v1/teams", params={"place": "north"}, headers=tenant.admin).json()["data"]
        == []
    )


@pytest.mark.parametrize(
    "body", [{"headcount": 0}, {"headcount": 10**6}, {"formed_on": "yesterday"}, {"place": None}]
)
def test_team_patch_refuses_bad_values(
    client: TestClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    seed(client, tenant.admin)
    before = client.get("/v1/teams/t1", headers=tenant.admin).json()
    assert_problem(client.patch("/v1/teams/t1", json=body, headers=tenant.admin), 422)
    assert client.get("/v1/teams/t1", headers=tenant.admin).json() == before


def test_unknown_record_is_not_found(client: TestClient, tenant: Tenant) -> None:
    for path in ["/v1/places/nope", "/v1/organisations/nope", "/v1/teams/nope", "/v1/pulses/nope"]:
        assert_problem(client.get(path, headers=tenant.admin), 404)


def test_lists_page_by_cursor_without_gaps_or_repeats(client: TestClient, tenant: Tenant) -> None:
    codes = [f"p{i:02d}" for i in range(25)]
    for code in reversed(codes):
        client.post("/v1/places", json={"code": code, "name": code}, headers=tenant.admin)
    seen: list[str] = []
    url: str | None = "/v1/places?limit=7"
    pages = 0
    while url:
        body = client.get(url, headers=tenant.admin).json()
        seen += [p["code"] for p in body["data"]]
        url = body["next"]
        pages += 1
        if url:
            assert url.startswith("https://testserver/v1/places?")
            assert f"cursor={body['next_cursor']}" in url
    assert seen == codes
    assert pages == 4


def test_next_cursor_alone_gives_the_next_page(client: TestClient, tenant: Tenant) -> None:
    for code in ["a", "b", "c"]:
        client.post("/v1/places", json={"code": code, "name": code}, headers=tenant.admin)
    first = client.get("/v1/places", params={"limit": 2}, headers=tenant.admin).json()
    second = client.get(
        "/v1/places", params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.admin
    ).json()
    assert [p["code"] for p in second["data"]] == ["c"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},
    ],
)
def test_bad_page_parameters_are_a_bad_request(
    client: TestClient, tenant: Tenant, params: dict[str, Any]
) -> None:
    problem = assert_problem(client.get("/v1/places", params=params, headers=tenant.admin), 400)
    assert problem["errors"][0]["parameter"] in params


def test_a_page_of_a_thousand_is_allowed(client: TestClient, tenant: Tenant) -> None:
    assert client.get("/v1/places", params={"limit": 1000}, headers=tenant.admin).status_code == 200


PULSE = {
    "key": "2026-11",
    "title": "November pulse",
    "opens_on": "2026-11-01",
    "closes_on": "2026-11-30",
}


@pytest.mark.parametrize(
    ("today", "status"),
    [
        ("2026-10-31", "scheduled"),
        ("2026-11-01", "open"),
        ("2026-11-30", "open"),
        ("2026-12-01", "closed"),
    ],
)
def test_pulse_status_follows_its_dates(
    client: TestClient, tenant: Tenant, clock: Clock, today: str, status: str
) -> None:
    client.post("/v1/pulses", json=PULSE, headers=tenant.admin)
    clock.now = clock.now.replace(
        year=int(today[:4]), month=int(today[5:7]), day=int(today[8:]), hour=23, minute=59
    )
    assert client.get("/v1/pulses/2026-11", headers=tenant.admin).json()["status"] == status


def test_pulse_closed_early_never_reopens(client: TestClient, tenant: Tenant, clock: Clock) -> None:
    client.post("/v1/pulses", json=PULSE, headers=tenant.admin)
    closed = client.post("/v1/pulses/2026-11/close", headers=tenant.admin).json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    again = client.post("/v1/pulses/2026-11/close", headers=tenant.admin).json()
    assert again["closed_at"] == closed["closed_at"]
    assert_problem(
        client.patch("/v1/pulses/2026-11", json={"closes_on": "2027-01-31"}, headers=tenant.admin),
        409,
    )
    clock.now -= timedelta(days=3)
    assert client.get("/v1/pulses/2026-11", headers=tenant.admin).json()["status"] == "open"
    clock.now += timedelta(days=6)
    assert client.get("/v1/pulses/2026-11", headers=tenant.admin).json()["status"] == "closed"


def test_pulse_closed_by_its_dates_cannot_be_extended(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    client.post("/v1/pulses", json=PULSE, headers=tenant.admin)
    clock.now += timedelta(days=10)
    problem = assert_problem(
        client.patch("/v1/pulses/2026-11", json={"closes_on": "2026-12-31"}, headers=tenant.admin),
        409,
    )
    assert "closed" in problem["detail"]
    retitled = client.patch("/v1/pulses/2026-11", json={"title": "Nov"}, headers=tenant.admin)
    assert retitled.json()["title"] == "Nov"


def test_pulse_that_closes_before_it_opens_is_refused(client: TestClient, tenant: Tenant) -> None:
    body = {**PULSE, "closes_on": "2026-10-01"}
    assert_problem(client.post("/v1/pulses", json=body, headers=tenant.admin), 422)
    client.post("/v1/pulses", json=PULSE, headers=tenant.admin)
    problem = assert_problem(
        client.patch("/v1/pulses/2026-11", json={"opens_on": "2026-12-15"}, headers=tenant.admin),
        422,
    )
    assert problem["errors"][0]["pointer"] == "/closes_on"


def test_pulses_are_listed_in_the_order_they_open(client: TestClient, tenant: Tenant) -> None:
    for key, opens, closes in [
        ("b", "2026-09-01", "2026-09-30"),
        ("a", "2026-10-01", "2026-10-31"),
        ("c", "2026-08-01", "2026-08-31"),
    ]:
        body = {"key": key, "title": key, "opens_on": opens, "closes_on": closes}
        client.post("/v1/pulses", json=body, headers=tenant.admin)
    first = client.get("/v1/pulses", params={"limit": 2}, headers=tenant.admin).json()
    rest = client.get(first["next"], headers=tenant.admin).json()
    assert [p["key"] for p in first["data"] + rest["data"]] == ["c", "b", "a"]


def test_duplicate_pulse_key_is_a_conflict(client: TestClient, tenant: Tenant) -> None:
    client.post("/v1/pulses", json=PULSE, headers=tenant.admin)
    assert_problem(client.post("/v1/pulses", json=PULSE, headers=tenant.admin), 409)
