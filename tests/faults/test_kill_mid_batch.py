"""SIGKILL of the API in the middle of a 5,000-item batch stores all of it or none of it.

The server is killed once the batch's transaction is under way (PostgreSQL: its session
has written; SQLite: it holds the write lock). Its rows are then all there or none is, and
the portal's retry, under the same Idempotency-Key, gets the answer of a batch stored once.
"""

import sqlite3
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from tests.api.test_races import answer
from tests.faults.conftest import stored
from tests.faults.server import ApiProcess

BATCH = 5000
TRIALS = 2
SQLITE_AIM = 0.25  # seconds


def post(base: str, body: Any, headers: dict[str, str]) -> httpx.Response | None:
    """The answer to ``body``, or None when the server died first."""
    try:
        return httpx.post(f"{base}/v1/responses/batch", json=body, headers=headers, timeout=120)
    except httpx.TransportError:
        return None


def writing(engine: Engine) -> bool:
    """Whether some other session is writing to the database, its transaction open."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            query = text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            )
            return bool(conn.scalar(query))
    probe = sqlite3.connect(str(make_url(str(engine.url)).database), timeout=0)
    probe.isolation_level = None
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:  # "database is locked": a writer holds it
        return True
    finally:
        probe.close()


def kill_while_writing(api: ApiProcess, engine: Engine, posting: "Future[Any]") -> None:
    deadline = time.monotonic() + 120
    while not writing(engine):
        assert not posting.done(), "the batch was answered before it was seen being written"
        assert time.monotonic() < deadline, "the batch was never seen being written"
        time.sleep(0.01)
    if engine.dialect.name == "sqlite":
        # The lock is taken as the request authenticates, before the batch is validated and
        # written (half a second and more for 5,000 items): aim the kill further in.
        time.sleep(SQLITE_AIM)
    api.kill()


def test_a_batch_killed_midway_is_stored_whole_or_not_at_all_and_its_retry_once(
    database_url: str, engine: Engine, admin: tuple[int, dict[str, str]]
) -> None:
    system_id, headers = admin
    for _ in range(TRIALS):
        ids = [uuid.uuid4().hex for _ in range(BATCH)]
        body = {"responses": [answer(external_id) for external_id in ids]}
        sent = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        api = ApiProcess(database_url).start()
        with ThreadPoolExecutor(1) as pool:
            posting = pool.submit(post, api.base, body, sent)
            kill_while_writing(api, engine, posting)
            first = posting.result(timeout=120)
        found = stored(engine, system_id, ids)
        assert found in ({}, dict.fromkeys(ids, 1)), f"{sum(found.values())} of {BATCH} stored"
        assert first is None or (first.status_code == 201 and found)

        api = ApiProcess(database_url).start()
        try:
            retry = post(api.base, body, sent)
        finally:
            api.stop()
        assert retry is not None
        assert (retry.status_code, retry.json()) == (201, {"created": BATCH, "already_stored": 0})
        assert stored(engine, system_id, ids) == dict.fromkeys(ids, 1)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.scalar(text("PRAGMA integrity_check")) == "ok"
