"""A read-only or full database is said as it is: its own 503, on every write path, and /readyz.

Before, a read-only PostgreSQL answered 500 "unexpected error" to every write, a full disk
500 on batches over 50 (the COPY path) and 503 "cannot be reached" on the rest, a
read-only or full SQLite 503 "cannot be reached or is busy", and /readyz stayed 200.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, make_url, select, text
from sqlalchemy.orm import Session

from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models import Place, Response
from app.settings import Settings
from tests.api.test_races import open_system
from tests.builders import assert_problem, bearer


def batch(size: int, tag: str) -> dict[str, Any]:
    items = [
        {"pulse": "p1", "team": "t1", "external_id": f"{tag}-{i}", "scores": {"purpose": 4}}
        for i in range(size)
    ]
    return {"responses": items}


def stored(url: str) -> tuple[int, int]:
    """Responses and places stored, read over a connection of its own."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            responses = session.scalar(select(func.count()).select_from(Response)) or 0
            places = session.scalar(select(func.count()).select_from(Place)) or 0
            return responses, places
    finally:
        engine.dispose()


@pytest.fixture
def migrated(scratch_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A database of its own, migrated, with a system (team t1, open pulse p1) and its key."""
    upgrade(scratch_url)
    engine = make_engine(scratch_url)
    _system_id, key = open_system(engine, "fault")
    engine.dispose()
    yield scratch_url, bearer(key)


def serve(url: str, engine: Engine | None = None) -> TestClient:
    return TestClient(create_app(Settings(database_url=url, publish_interval=0), engine=engine))


def read_only(url: str) -> Engine | None:
    """Make the database refuse writes: an engine for the app on SQLite, None on PostgreSQL."""
    if url.startswith("sqlite"):
        engine = make_engine(url)
        event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA query_only=ON"))
        return engine
    set_read_only(url, "SET default_transaction_read_only = on")
    return None


def set_read_only(url: str, change: str) -> None:
    """ALTER the database of ``url``, from another (itself read-only, it could not)."""
    database = make_url(url)
    admin = make_engine(
        database.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database.database}" {change}'))
    admin.dispose()


def writable_again(url: str) -> None:
    if url.startswith("postgresql"):
        set_read_only(url, "RESET default_transaction_read_only")


def test_a_read_only_database_answers_its_own_503_on_every_write_path(
    migrated: tuple[str, dict[str, str]],
) -> None:
    url, admin = migrated
    engine = read_only(url)
    try:
        with serve(url, engine) as client:
            single = {"pulse": "p1", "team": "t1", "scores": {"purpose": 4}}
            answers = [
                client.post("/v1/places", json={"code": "east", "name": "East"}, headers=admin),
                client.post("/v1/responses", json=single, headers=admin),
                client.post("/v1/responses/batch", json=batch(5, "small"), headers=admin),
                client.post("/v1/responses/batch", json=batch(200, "large"), headers=admin),
            ]
            ready = client.get("/readyz")
            reads = client.get("/v1/teams", headers=admin)
    finally:
        if engine is not None:
            engine.dispose()
        writable_again(url)

    for answer in answers:
        problem = assert_problem(answer, 503)
        assert problem["type"] == "/problems/database-read-only"
        assert int(answer.headers["retry-after"]) > 0
    assert assert_problem(ready, 503)["type"] == "/problems/database-read-only"
    assert reads.status_code == 200  # reading goes on
    assert stored(url) == (0, 1)  # open_system's place only


def test_the_service_recovers_without_a_restart_once_the_database_takes_writes_again(
    migrated: tuple[str, dict[str, str]],
) -> None:
    url, admin = migrated
    if url.startswith("sqlite"):
        pytest.skip("on SQLite, query_only belongs to the engine given to the app")
    with serve(url) as client:
        read_only(url)
        refused = client.post("/v1/places", json={"code": "east", "name": "East"}, headers=admin)
        writable_again(url)
        taken = client.post("/v1/places", json={"code": "east", "name": "East"}, headers=admin)
        ready = client.get("/readyz")

    assert assert_problem(refused, 503)["type"] == "/problems/database-read-only"
    assert taken.status_code == 201
    assert ready.status_code == 200


def full(url: str) -> Engine:
    """An engine on which the SQLite database cannot grow past the pages it has now."""
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _cap(conn: Any, _record: Any) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages}")

    return engine


def test_a_full_database_answers_its_own_503_and_readyz_says_so(
    migrated: tuple[str, dict[str, str]],
) -> None:
    url, admin = migrated
    if url.startswith("postgresql"):
        pytest.skip("PostgreSQL: tests/faults/test_disk_full.py fills a small filesystem")
    engine = full(url)
    try:
        with serve(url, engine) as client:
            answer = client.post("/v1/responses/batch", json=batch(2000, "big"), headers=admin)
            ready = client.get("/readyz")
            small = client.post("/v1/places", json={"code": "e", "name": "E"}, headers=admin)
            after = client.get("/readyz")
    finally:
        engine.dispose()

    problem = assert_problem(answer, 503)
    assert problem["type"] == "/problems/database-full"
    assert int(answer.headers["retry-after"]) > 0
    assert assert_problem(ready, 503)["type"] == "/problems/database-full"
    # A small write that fits in the pages there are is stored, and readiness comes back.
    assert small.status_code == 201
    assert after.status_code == 200
    assert stored(url) == (0, 2)
