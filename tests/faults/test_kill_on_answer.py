"""Killing the API the moment a 201 arrives loses nothing (issue 10).

The session used to commit after the answer had been sent: a crash in between lost writes
the client had been told were stored (7 of 10 batches on PostgreSQL, 8 of 8 on SQLite).
Here a fresh server takes one write, and is SIGKILLed as soon as the status line of its
201 has been read; whatever was acknowledged must then be in the database.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.models import Response
from tests.api.test_races import answer, open_system, remove_system
from tests.builders import bearer
from tests.faults.server import ApiProcess

KILLS = 20
BATCH = 50


@pytest.fixture
def admin(engine: Engine) -> Iterator[tuple[int, dict[str, str]]]:
    """A system with a team and an open pulse, and the headers of its admin key."""
    system_id, key = open_system(engine, "kill")
    yield system_id, bearer(key)
    remove_system(engine, system_id)


def stored(engine: Engine, system_id: int, external_ids: list[str]) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(
            Response.system_id == system_id, Response.external_id.in_(external_ids)
        )
        return session.scalar(query) or 0


def post_then_kill(database_url: str, path: str, body: Any, headers: dict[str, str]) -> int:
    """Post ``body`` to a fresh server and SIGKILL it as soon as the answer's status is in."""
    api = ApiProcess(database_url).start()
    try:
        with (
            httpx.Client(base_url=api.base, headers=headers, timeout=60) as client,
            client.stream("POST", path, json=body) as answered,
        ):
            api.kill()
            return answered.status_code
    finally:
        api.stop()


def test_every_single_response_acknowledged_before_a_kill_is_stored(
    database_url: str, engine: Engine, admin: tuple[int, dict[str, str]]
) -> None:
    system_id, headers = admin
    lost = []
    for _ in range(KILLS):
        external_id = uuid.uuid4().hex
        status = post_then_kill(database_url, "/v1/responses", answer(external_id), headers)
        assert status == 201
        if stored(engine, system_id, [external_id]) != 1:
            lost.append(external_id)
    assert lost == []


def test_every_batch_acknowledged_before_a_kill_is_stored_whole(
    database_url: str, engine: Engine, admin: tuple[int, dict[str, str]]
) -> None:
    system_id, headers = admin
    short = []
    for _ in range(KILLS):
        ids = [uuid.uuid4().hex for _ in range(BATCH)]
        body = {"responses": [answer(external_id) for external_id in ids]}
        assert post_then_kill(database_url, "/v1/responses/batch", body, headers) == 201
        if (found := stored(engine, system_id, ids)) != BATCH:
            short.append(found)
    assert short == []
