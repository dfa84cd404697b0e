"""Reading order: warning signs most severe first with a stable cursor; scores newest first."""

import random
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Tenant
from tests.api.world import MONTHS, answers, post, structure
from tests.conftest import Clock

RANK = {"red": 0, "amber": 1, "info": 2}


def order_key(flag: dict[str, Any]) -> tuple[Any, ...]:
    return (
        RANK[flag["severity"]],
        flag["place"] or "",
        flag["team"] or "",
        flag["rule"],
        flag["dimension"] or "",
    )


def pages(client: TestClient, headers: dict[str, str], path: str, limit: int) -> list[Any]:
    """Every row of ``path``, following ``next_cursor`` a page of ``limit`` at a time."""
    rows: list[Any] = []
    cursor = None
    while True:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        answer = client.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        rows += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def test_warning_signs_come_most_severe_first_then_by_place_team_rule_and_dimension(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    whole = client.get("/v1/warning-signs", params={"limit": "1000"}, headers=tenant.admin)
    found = whole.json()["data"]
    assert {f["severity"] for f in found} >= {"red", "amber", "info"}  # a real mix to order
    assert [order_key(f) for f in found] == sorted(order_key(f) for f in found)
    assert found[0]["severity"] == "red"


def test_paging_warning_signs_two_at_a_time_gives_each_once_in_the_same_order(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    whole = client.get("/v1/warning-signs", params={"limit": "1000"}, headers=tenant.admin)
    paged = pages(client, tenant.admin, "/v1/warning-signs", 2)
    assert [f["id"] for f in paged] == [f["id"] for f in whole.json()["data"]]
    assert len({f["id"] for f in paged}) == len(paged)


def test_a_teams_scores_come_newest_pulse_first(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    entries = pages(client, tenant.admin, "/v1/teams/t-ok1/scores", 2)
    assert [e["pulse"] for e in entries] == sorted(MONTHS, reverse=True)


def test_pulse_latest_gives_the_latest_closed_pulse_of_a_place(
    client: TestClient, tenant: Tenant, world: dict[str, Any]
) -> None:
    answer = client.get("/v1/places/north/scores", params={"pulse": "latest"}, headers=tenant.admin)
    assert answer.status_code == 200, answer.text
    assert [e["pulse"] for e in answer.json()["data"]] == [MONTHS[-1]]


def test_suppressed_exclude_leaves_out_only_the_suppressed_breakdowns(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    clock.now = clock.now.replace(year=2026, month=11, day=25)
    rng = random.Random(5)
    structure(client, tenant.admin, {"t-mixed": "north", "t-other": "north"})
    items = []
    for pulse in MONTHS:  # two team leads: too few to publish their own breakdown
        items += answers("t-mixed", pulse, 12, 4.0, rng, role="frontline", profession="nursing")
        items += answers("t-mixed", pulse, 2, 3.0, rng, role="team_lead", profession="nursing")
        items += answers("t-other", pulse, 12, 4.0, rng, role="frontline")
    post(client, tenant.admin, "/v1/responses/batch", {"responses": items})
    path, pulse = "/v1/teams/t-mixed/scores", {"pulse": MONTHS[-1]}
    every = client.get(path, params=pulse, headers=tenant.admin).json()["data"][0]
    published = client.get(
        path, params={**pulse, "suppressed": "exclude"}, headers=tenant.admin
    ).json()["data"][0]

    def breakdowns(entry: dict[str, Any]) -> list[tuple[str, Any, bool]]:
        return [
            (d["dimension"], (b["segment_type"], b["segment"]), b["suppressed"])
            for d in entry["dimensions"]
            for b in d["breakdowns"]
        ]

    assert any(s for *_, s in breakdowns(every))  # some breakdown is suppressed
    assert any(not s for *_, s in breakdowns(every))  # and some is published
    assert breakdowns(published) == [b for b in breakdowns(every) if not b[2]]
    assert [d["dimension"] for d in published["dimensions"]] == [
        d["dimension"] for d in every["dimensions"]
    ]
