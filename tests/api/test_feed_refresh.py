"""Power BI's incremental refresh, played against the feeds; lookups and participation."""

import csv
import io
import json
import random
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.api.world import MONTHS, answers, post
from tests.builders import bearer, make_key
from tests.conftest import Clock

FEEDS = ["/v1/feeds/scores", "/v1/feeds/warning-signs", "/v1/feeds/participation"]


def pull(client: TestClient, headers: dict[str, str], feed: str, **params: str) -> list[Any]:
    """Every row of a feed for ``params``, paging by next_cursor as the M code does."""
    rows: list[Any] = []
    cursor: str | None = None
    while True:
        query = {"format": "json", "limit": "1000", **params} | (
            {"cursor": cursor} if cursor else {}
        )
        body = client.get(feed, params=query, headers=headers).json()
        rows += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def months(first: str, count: int) -> list[tuple[str, str]]:
    """Monthly partitions of the close date, as RangeStart / RangeEnd days."""
    start = date.fromisoformat(f"{first}-01")
    out = []
    for _ in range(count):
        end = (start + timedelta(days=32)).replace(day=1)
        out.append((start.isoformat(), end.isoformat()))
        start = end
    return out


class PowerBI:
    """A dataset with incremental refresh: partitions by close date, detect data changes."""

    def __init__(self, client: TestClient, headers: dict[str, str], feed: str) -> None:
        self.client, self.headers, self.feed = client, headers, feed
        self.partitions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.marks: dict[tuple[str, str], str | None] = {}

    def refresh(self) -> None:
        """Refresh each partition only when the greatest updated_at in it moved."""
        for window in months("2026-06", 8):
            rows = pull(
                self.client, self.headers, self.feed, closes_from=window[0], closes_to=window[1]
            )
            mark = max((r["updated_at"] for r in rows), default=None)
            if window not in self.marks or self.marks[window] != mark:
                self.partitions[window] = rows
                self.marks[window] = mark

    def rows(self) -> list[dict[str, Any]]:
        return [row for rows in self.partitions.values() for row in rows]


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "no row twice"
    return {r["id"]: r for r in rows}


def content(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "updated_at"}


def test_incremental_refresh_matches_a_full_pull_and_restamps_only_changed_rows(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any], clock: Clock
) -> None:
    headers = bearer(make_key(db, tenant.system, Scope.feeds_read))
    datasets = {feed: PowerBI(client, headers, feed) for feed in FEEDS}
    before = {feed: by_id(pull(client, headers, feed)) for feed in FEEDS}
    withdrawn: set[str] = set()

    def step() -> None:
        clock.now += timedelta(minutes=5)
        for feed, dataset in datasets.items():
            dataset.refresh()
            full = by_id(pull(client, headers, feed))
            assert by_id(dataset.rows()) == full, f"{feed}: partitions equal a full pull"
            for row_id, row in full.items():
                old = before[feed].get(row_id)
                if old is not None and content(old) == content(row):
                    assert old["updated_at"] == row["updated_at"], f"{feed}: restamped {row}"
                elif old is not None:
                    assert old["updated_at"] < row["updated_at"], f"{feed}: changed, same stamp"
            assert before[feed].keys() <= full.keys(), "rows are never dropped, only withdrawn"
            withdrawn.update(r for r, row in full.items() if row["withdrawn_at"] is not None)
            before[feed] = full

    step()
    admin = tenant.admin
    rng = random.Random(11)
    # A late upload into a closed pulse.
    post(
        client,
        admin,
        "/v1/responses/batch",
        {"responses": answers("t-ok3", MONTHS[-1], 6, 2.0, rng)},
    )
    step()
    # A new pulse, t-ok2 silent in it: it goes quiet.
    pulse = {"key": "2026-11", "title": "Nov", "opens_on": "2026-11-01", "closes_on": "2026-11-30"}
    post(client, admin, "/v1/pulses", pulse)
    items = [a for t in ("t-fall", "t-ok1", "t-ok3") for a in answers(t, "2026-11", 15, 4.0, rng)]
    post(client, admin, "/v1/responses/batch", {"responses": items})
    clock.now = clock.now.replace(month=12, day=2)
    step()
    quiet = [
        r
        for r in before["/v1/feeds/warning-signs"].values()
        if r["rule"] == "gone_quiet" and r["team"] == "t-ok2" and r["pulse"] == "2026-11"
    ]
    assert quiet and quiet[0]["withdrawn_at"] is None
    # Its late answers withdraw the flag: a tombstone, seen by the partition's refresh.
    post(
        client,
        admin,
        "/v1/responses/batch",
        {"responses": answers("t-ok2", "2026-11", 15, 4.0, rng)},
    )
    step()
    assert quiet[0]["id"] in withdrawn
    # An erasure.
    listed = client.get(
        "/v1/responses", params={"pulse": MONTHS[-1], "team": "t-ok1"}, headers=admin
    )
    erased = client.delete(f"/v1/responses/{listed.json()['data'][0]['id']}", headers=admin)
    assert erased.status_code in (200, 204), erased.text
    step()
    # A rule change: falling flags go, polarised thresholds that change nothing stay put.
    rules = {"rules": {"falling": {"enabled": False}, "polarised": {"amber_sd": 1.3}}}
    assert client.put("/v1/rules", json=rules, headers=admin).status_code == 200
    step()
    flags = before["/v1/feeds/warning-signs"].values()
    assert any(r["rule"] == "falling" and r["withdrawn_at"] for r in flags)
    assert not any(r["rule"] == "falling" and r["withdrawn_at"] is None for r in flags)


def test_a_recomputation_with_the_same_numbers_keeps_the_etag(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any]
) -> None:
    headers = bearer(make_key(db, tenant.system, Scope.feeds_read))
    first = client.get("/v1/feeds/scores", headers=headers)
    body = {"rules": {"polarised": {"amber_sd": 1.3}}}  # every result due again, no cell moves
    assert client.put("/v1/rules", json=body, headers=tenant.admin).status_code == 200
    again = client.get(
        "/v1/feeds/scores", headers={**headers, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


def test_tombstones_carry_only_what_was_published_before(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any]
) -> None:
    headers = bearer(make_key(db, tenant.system, Scope.feeds_read))
    live = by_id(pull(client, headers, "/v1/feeds/warning-signs"))
    rules = {"rules": {"falling": {"enabled": False}}}
    assert client.put("/v1/rules", json=rules, headers=tenant.admin).status_code == 200
    after = by_id(pull(client, headers, "/v1/feeds/warning-signs"))
    gone = [r for r in after.values() if r["withdrawn_at"] is not None]
    assert gone
    for row in gone:
        assert content(live[row["id"]]) | {"withdrawn_at": row["withdrawn_at"]} == content(row)
    insights = client.get("/v1/warning-signs", params={"pulse": MONTHS[-1]}, headers=tenant.admin)
    assert {r["id"] for r in gone}.isdisjoint(r["id"] for r in insights.json()["data"])


def test_participation_rows_are_the_counts_the_scores_endpoint_publishes(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any]
) -> None:
    headers = bearer(make_key(db, tenant.system, Scope.feeds_read))
    rows = pull(client, headers, "/v1/feeds/participation", pulse=MONTHS[-1])
    assert {(r["scope"], r["team"] or r["place"]) for r in rows} == {
        *(("team", t) for t in world["teams"]),
        ("place", "north"),
        ("place", "south"),
    }
    for row in rows:
        path = (
            f"/v1/teams/{row['team']}/scores"
            if row["team"]
            else f"/v1/places/{row['place']}/scores"
        )
        entries = client.get(path, headers=tenant.admin).json()["data"]
        shown = next(e for e in entries if e["pulse"] == MONTHS[-1])["participation"]
        assert {k: row[k] for k in shown} == shown
        assert row["pulse_closes_on"] == "2026-10-31" and row["pulse_opens_on"] == "2026-10-01"


def test_rows_carry_names_and_dates_and_the_close_range_selects_by_pulse(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any]
) -> None:
    headers = bearer(make_key(db, tenant.system, Scope.feeds_read))
    rows = pull(
        client, headers, "/v1/feeds/scores", closes_from="2026-09-01", closes_to="2026-10-31"
    )
    assert {r["pulse"] for r in rows} == {"2026-09"}
    assert all(r["place_name"] == r["place"] and r["pulse_title"] == "2026-09" for r in rows)
    assert {r["team_name"] for r in rows if r["scope"] == "team"} == set(world["teams"]) - {
        "t-tiny"
    } | {r["team"] for r in rows if r["scope"] == "team"}


@pytest.mark.parametrize("name", ["places", "organisations", "teams", "pulses"])
def test_the_structure_is_served_as_csv_lookup_tables(
    client: TestClient, tenant: Tenant, db: Session, world: dict[str, Any], name: str
) -> None:
    headers = bearer(make_key(db, tenant.system, Scope.feeds_read))
    table = client.get(f"/v1/feeds/{name}", params={"format": "csv"}, headers=headers)
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(table.text)))
    as_json = client.get(f"/v1/feeds/{name}", headers=headers).json()["data"]
    assert [r.get("code", r.get("key")) for r in parsed] == [
        r.get("code", r.get("key")) for r in as_json
    ]
    assert all(r["updated_on"] == r["updated_at"][:10] for r in parsed)
    streamed = client.get(f"/v1/feeds/{name}", params={"format": "ndjson"}, headers=headers)
    assert [json.loads(line) for line in streamed.text.splitlines()] == as_json
