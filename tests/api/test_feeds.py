"""BI feeds: paging, incremental windows, formats, caching, and no suppressed numbers anywhere."""

import csv
import io
import json
import random
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.services.feeds import SCORE_COLUMNS, _csv_cell, flatten
from app.vocab import Scope
from tests.api.conftest import Tenant
from tests.api.world import answers, post
from tests.builders import assert_problem, bearer, make_key
from tests.conftest import Clock

FEEDS = ["/v1/feeds/scores", "/v1/feeds/warning-signs"]


@pytest.fixture
def bi(client: TestClient, tenant: Tenant, db: Session) -> dict[str, str]:
    return bearer(make_key(db, tenant.system, Scope.feeds_read))


def pages(client: TestClient, headers: dict[str, str], url: str) -> list[dict[str, Any]]:
    """Every row, following `next` in the body."""
    rows: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        rows += response.json()["data"]
        next_url = response.json()["next"]
    return rows


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


@pytest.mark.parametrize("feed", FEEDS)
def test_small_pages_give_exactly_the_rows_of_one_big_page(
    client: TestClient, bi: dict[str, str], world: dict[str, Any], feed: str
) -> None:
    whole = client.get(feed, params={"limit": 1000}, headers=bi).json()
    assert whole["next"] is None and len(whole["data"]) > 7
    assert pages(client, bi, f"{feed}?limit=7") == whole["data"]


@pytest.mark.parametrize("feed", FEEDS)
def test_streamed_pages_follow_the_link_header(
    client: TestClient, bi: dict[str, str], world: dict[str, Any], feed: str
) -> None:
    whole = client.get(feed, params={"limit": 1000}, headers=bi).json()["data"]
    rows: list[dict[str, Any]] = []
    url: str | None = f"{feed}?format=ndjson&limit=9"
    while url:
        response = client.get(url, headers=bi)
        assert response.headers["content-type"] == "application/x-ndjson"
        rows += ndjson(response.text)
        link = response.headers.get("link")
        url = link[1 : link.index(">")] if link else None
    assert rows == whole


@pytest.mark.parametrize("feed", FEEDS)
def test_every_format_parses_back_to_the_same_rows(
    client: TestClient, bi: dict[str, str], world: dict[str, Any], feed: str
) -> None:
    rows = client.get(feed, params={"limit": 1000}, headers=bi).json()["data"]
    by_accept = client.get(feed, headers={**bi, "Accept": "application/x-ndjson"})
    assert ndjson(by_accept.text) == rows
    table = client.get(feed, params={"format": "csv"}, headers=bi)
    assert table.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(table.text)))
    for got, want in zip(parsed, rows, strict=True):
        for name, value in want.items():
            if name.endswith("_at"):
                day = name.removesuffix("_at") + "_on"
                assert got[day] == (value[:10] if value else ""), "a date beside each timestamp"
            if name == "evidence":
                flat = flatten(value)
                assert flat, "flags cite evidence"
                assert {k: got[k] for k in flat} == {k: _csv_text(v) for k, v in flat.items()}
                assert all(got[k] == "" for k in got if k.startswith("evidence_") and k not in flat)
                assert "evidence" not in got
            elif value is None:
                assert got[name] == ""
            elif isinstance(value, bool):
                assert got[name] == str(value).lower()
            elif isinstance(value, int | float):
                assert float(got[name]) == pytest.approx(value)
            else:
                assert got[name] == value


def _csv_text(value: Any) -> str:
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def test_score_rows_have_exactly_the_documented_columns(
    client: TestClient, bi: dict[str, str], world: dict[str, Any]
) -> None:
    rows = client.get("/v1/feeds/scores", params={"limit": 50}, headers=bi).json()["data"]
    assert all(tuple(row) == SCORE_COLUMNS for row in rows)


def test_no_suppressed_cell_carries_a_number_in_any_format(
    client: TestClient, bi: dict[str, str], world: dict[str, Any]
) -> None:
    numbers = ("n", "mean", "sd", "ci_low", "ci_high")
    rows = pages(client, bi, "/v1/feeds/scores?limit=1000")
    suppressed = [r for r in rows if r["suppressed"]]
    assert suppressed, "the world has small teams and segments"
    assert all(r[k] is None for r in suppressed for k in numbers)
    streamed = ndjson(client.get("/v1/feeds/scores?format=ndjson", headers=bi).text)
    assert all(r[k] is None for r in streamed if r["suppressed"] for k in numbers)
    table = csv.DictReader(io.StringIO(client.get("/v1/feeds/scores?format=csv", headers=bi).text))
    assert all(r[k] == "" for r in table if r["suppressed"] == "true" for k in numbers)


def test_updated_from_and_to_split_a_feed_without_gap_or_overlap(
    client: TestClient, tenant: Tenant, bi: dict[str, str], world: dict[str, Any], clock: Clock
) -> None:
    first = pages(client, bi, "/v1/feeds/scores?limit=1000")
    clock.now += timedelta(hours=1)
    split = clock.now.isoformat()
    late = answers("t-ok3", "2026-10", 5, 1.5, random.Random(4), role="frontline")
    post(client, tenant.admin, "/v1/responses/batch", {"responses": late})
    everything = pages(client, bi, "/v1/feeds/scores?limit=1000")
    before = pages(
        client, bi, f"/v1/feeds/scores?limit=1000&updated_to={split.replace('+', '%2B')}"
    )
    after = pages(
        client, bi, f"/v1/feeds/scores?limit=1000&updated_from={split.replace('+', '%2B')}"
    )
    assert after, "the late upload changed some rows"
    assert len(before) + len(after) == len(everything)
    assert {json.dumps(r, sort_keys=True) for r in before + after} == {
        json.dumps(r, sort_keys=True) for r in everything
    }
    assert len(everything) >= len(first)


def test_pages_stay_consistent_while_responses_land_and_pulses_close(
    client: TestClient, tenant: Tenant, bi: dict[str, str], world: dict[str, Any], clock: Clock
) -> None:
    first = client.get("/v1/feeds/warning-signs", params={"limit": 5}, headers=bi).json()
    body = {"key": "2026-11", "title": "Nov", "opens_on": "2026-11-01", "closes_on": "2026-11-30"}
    post(client, tenant.admin, "/v1/pulses", body)
    post(
        client,
        tenant.admin,
        "/v1/responses/batch",
        {"responses": answers("t-fall", "2026-11", 15, 1.5, random.Random(2))},
    )
    clock.now = clock.now.replace(month=12, day=2)  # 2026-11 closes
    rest = pages(client, bi, first["next"])
    seen = [r["id"] for r in first["data"] + rest]
    assert len(seen) == len(set(seen))
    assert any(r["pulse"] == "2026-11" for r in rest)
    assert [r["id"] for r in pages(client, bi, "/v1/feeds/warning-signs?limit=1000")] == seen


@pytest.mark.parametrize("feed", FEEDS)
def test_an_unchanged_feed_answers_304_and_a_changed_one_does_not(
    client: TestClient, tenant: Tenant, bi: dict[str, str], world: dict[str, Any], feed: str
) -> None:
    first = client.get(feed, headers=bi)
    assert first.headers["cache-control"] == "private"
    assert "Authorization" in first.headers["vary"]
    assert first.headers["last-modified"]
    again = client.get(feed, headers={**bi, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    late = answers("t-ok1", "2026-10", 6, 1.0, random.Random(8))
    post(client, tenant.admin, "/v1/responses/batch", {"responses": late})
    changed = client.get(feed, headers={**bi, "If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 1001},
        {"limit": 0},
        {"format": "xml"},
        {"updated_from": "2026-11-01T00:00:00"},
        {"cursor": "bogus"},
        {"dimension": "joy"},
    ],
)
def test_bad_feed_parameters_are_a_bad_request(
    client: TestClient, bi: dict[str, str], params: dict[str, Any]
) -> None:
    assert_problem(client.get("/v1/feeds/scores", params=params, headers=bi), 400)


def test_a_large_streamed_page_is_allowed(client: TestClient, bi: dict[str, str]) -> None:
    response = client.get("/v1/feeds/scores", params={"format": "csv", "limit": 500000}, headers=bi)
    assert response.status_code == 200
    header = [c for name in SCORE_COLUMNS for c in (name, name.replace("_at", "_on"))]
    assert response.text.splitlines() == [",".join(dict.fromkeys(header))]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("plain", "plain"),
        (3.5, 3.5),
    ],
)
def test_csv_cells_that_could_run_as_formulas_are_neutralised(value: Any, shown: Any) -> None:
    assert _csv_cell(value) == shown
