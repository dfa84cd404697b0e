"""A read during a recomputation answers at once: what is kept, with its rules version.

The system is committed (as in tests/api/test_races.py), so that the test's own transaction
holds no lock. A computation of its results is held the way the service's publisher holds it:
on PostgreSQL the system's advisory lock, taken in a transaction of another connection; on
SQLite the process's lock on the system. A read that finds it held must not compute the
same results beside it, nor wait for them.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.main import create_app
from app.services.results.publish import LOCK_SPACE, local_lock
from app.settings import Settings
from tests.api.test_races import Live, answer, open_system, remove_system
from tests.builders import assert_problem, bearer


@contextmanager
def computing(engine: Engine, system_id: int) -> Iterator[None]:
    """The system's results being computed elsewhere for as long as this is open."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as other, other.begin():
            other.execute(select(func.pg_advisory_xact_lock(LOCK_SPACE, system_id)))
            yield
        return
    held = local_lock(system_id)
    assert held.acquire(timeout=5)
    try:
        yield
    finally:
        held.release()


@pytest.fixture
def live(app_settings: Settings, engine: Engine) -> Iterator[Live]:
    """A committed system whose pulse p1 holds six low support scores, then closes."""
    system_id, key = open_system(engine, "waits")
    try:
        with TestClient(create_app(app_settings, engine=engine)) as client:
            live = Live(client, system_id, bearer(key), engine)
            batch = {"responses": [answer(support=1) for _ in range(6)]}
            posted = client.post("/v1/responses/batch", json=batch, headers=live.headers)
            assert posted.status_code == 201, posted.text
            closed = client.post("/v1/pulses/p1/close", json={}, headers=live.headers)
            assert closed.status_code == 200, closed.text
            yield live
    finally:
        remove_system(engine, system_id)


def low_score(live: Live) -> dict[str, Any]:
    """The one low_score flag of team t1 in p1."""
    response = live.client.get(
        "/v1/warning-signs",
        params={"pulse": "p1", "rule": "low_score", "scope": "team"},
        headers=live.headers,
    )
    assert response.status_code == 200, response.text
    (flag,) = response.json()["data"]
    assert isinstance(flag, dict)
    return flag


def test_a_read_during_a_recomputation_answers_what_is_kept_with_its_version(
    live: Live,
) -> None:
    kept = low_score(live)  # computed now, and kept
    assert (kept["rules_version"], kept["severity"]) == (1, "red")
    scores = live.client.get("/v1/teams/t1/scores", headers=live.headers)
    assert scores.status_code == 200
    change = {"version": 1, "rules": {"low_score": {"red_below": None, "amber_below": 4.5}}}
    assert live.client.put("/v1/rules", json=change, headers=live.headers).status_code == 200

    with computing(live.engine, live.system_id):
        assert low_score(live) == kept
        during = live.client.get("/v1/teams/t1/scores", headers=live.headers)
        feed = live.client.get("/v1/feeds/warning-signs", headers=live.headers)
    assert during.status_code == 200 and during.json() == scores.json()
    assert feed.status_code == 200
    assert {row["rules_version"] for row in feed.json()["data"]} == {1}

    # Once the computation is no longer held, the next read brings the results up to date.
    after = low_score(live)
    assert (after["rules_version"], after["severity"]) == (2, "amber")


def test_a_pulse_never_published_answers_503_while_it_is_being_computed(live: Live) -> None:
    with computing(live.engine, live.system_id):
        response = live.client.get(
            "/v1/warning-signs", params={"pulse": "p1"}, headers=live.headers
        )
    problem = assert_problem(response, 503)
    assert problem["type"].endswith("/problems/results-computing")
    assert int(response.headers["Retry-After"]) > 0
    # Afterwards the read computes them itself.
    assert low_score(live)["rules_version"] == 1
