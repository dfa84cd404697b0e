"""A small system with five monthly pulses, for the insights and feeds tests."""

import random
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Tenant
from tests.conftest import Clock

MONTHS = ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
KIND_ORG = {
    "nhs_trust": "trust",
    "local_authority": "council",
    "voluntary_sector": "charity",
    "primary_care": "gp",
}


def post(client: TestClient, headers: dict[str, str], path: str, body: Any) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def structure(client: TestClient, admin: dict[str, str], teams: dict[str, str]) -> None:
    """Places, one organisation of each kind, the teams (code -> place) and five pulses."""
    for place in sorted(set(teams.values())):
        post(client, admin, "/v1/places", {"code": place, "name": place})
    for kind, code in KIND_ORG.items():
        post(client, admin, "/v1/organisations", {"code": code, "name": code, "kind": kind})
    for team, place in sorted(teams.items()):
        body = {"code": team, "name": team, "place": place, "host_organisation": "trust"}
        post(client, admin, "/v1/teams", {**body, "headcount": 20})
    for key in MONTHS:
        first = date.fromisoformat(f"{key}-01")
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        body = {"key": key, "title": key, "opens_on": str(first), "closes_on": str(last)}
        post(client, admin, "/v1/pulses", body)


def answers(
    team: str, pulse: str, n: int, mean: float, rng: random.Random, **extra: Any
) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        value = min(5, max(1, round(rng.gauss(mean, 0.7))))
        scores = {
            d: value
            for d in (
                "purpose",
                "belief",
                "support",
                "new_ways_of_working",
                "partner_relationships",
            )
        }
        out.append({"pulse": pulse, "team": team, "scores": scores, **extra})
    return out


@pytest.fixture
def world(client: TestClient, tenant: Tenant, clock: Clock) -> dict[str, Any]:
    """Two places of steady teams; t-fall's support collapses in the last pulse."""
    clock.now = clock.now.replace(year=2026, month=11, day=25)
    rng = random.Random(3)
    teams = {
        "t-fall": "north",
        "t-ok1": "north",
        "t-ok2": "north",
        "t-ok3": "south",
        "t-tiny": "south",
    }
    structure(client, tenant.admin, teams)
    items: list[dict[str, Any]] = []
    for pulse in MONTHS:
        for team in ("t-fall", "t-ok1", "t-ok2", "t-ok3"):
            mean = 2.0 if (team == "t-fall" and pulse == MONTHS[-1]) else 4.0
            items += answers(team, pulse, 15, mean, rng, role="frontline")
        items += answers("t-tiny", pulse, 3, 4.0, rng)
    post(client, tenant.admin, "/v1/responses/batch", {"responses": items})
    return {"teams": teams}
