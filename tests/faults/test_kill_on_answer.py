"""Killing the API the moment a 201 arrives loses nothing (issue 10).

The session used to commit after the answer had been sent: a crash in between lost writes
the client had been told were stored (7 of 10 batches on PostgreSQL, 8 of 8 on SQLite).
Here a fresh server takes one write, and is SIGKILLed as soon as the status line of its
201 has been read; whatever was acknowledged must then be in the database.
"""

import uuid
from collections.abc import Generator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.test_races import answer
from tests.faults.conftest import stored
from tests.faults.server import ApiProcess

KILLS = 20
BATCH = 20


@pytest.fixture
def servers(database_url: str) -> Iterator[Generator[ApiProcess]]:
    """Fresh servers, one after another; each is launched while the one before is in use."""

    def fresh() -> Generator[ApiProcess]:
        current = upcoming = ApiProcess(database_url).launch()
        try:
            while True:
                current, upcoming = upcoming, ApiProcess(database_url).launch()
                yield current.ready()
                current.stop()
        finally:
            current.stop()
            upcoming.kill()  # never used: no need to wait for a graceful end

    made = fresh()
    yield made
    made.close()


def post_then_kill(api: ApiProcess, path: str, body: Any, headers: dict[str, str]) -> int:
    """Post ``body`` and SIGKILL the server as soon as the answer's status is in."""
    with (
        httpx.Client(base_url=api.base, headers=headers, timeout=60) as client,
        client.stream("POST", path, json=body) as answered,
    ):
        api.kill()
        return answered.status_code


def test_every_single_response_acknowledged_before_a_kill_is_stored(
    servers: Generator[ApiProcess], engine: Engine, admin: tuple[int, dict[str, str]]
) -> None:
    system_id, headers = admin
    lost = []
    for _ in range(KILLS):
        external_id = uuid.uuid4().hex
        status = post_then_kill(next(servers), "/v1/responses", answer(external_id), headers)
        assert status == 201
        if stored(engine, system_id, [external_id]) != {external_id: 1}:
            lost.append(external_id)
    assert lost == []


def test_every_batch_acknowledged_before_a_kill_is_stored_whole(
    servers: Generator[ApiProcess], engine: Engine, admin: tuple[int, dict[str, str]]
) -> None:
    system_id, headers = admin
    short = []
    for _ in range(KILLS):
        ids = [uuid.uuid4().hex for _ in range(BATCH)]
        body = {"responses": [answer(external_id) for external_id in ids]}
        assert post_then_kill(next(servers), "/v1/responses/batch", body, headers) == 201
        if (found := stored(engine, system_id, ids)) != dict.fromkeys(ids, 1):
            short.append(sum(found.values()))
    assert short == []
