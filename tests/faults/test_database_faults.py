"""The private cluster restarted, or its postmaster killed, under a steady write load.

A portal posts responses with unique external ids throughout. While the database is away
the API answers 503 with ``Retry-After`` (never a 500, never a hang: every client has a
timeout), it serves again as soon as the database is back without being restarted itself,
every 2xx response is stored exactly once, and each 503 is safe to retry.
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.test_races import answer
from tests.faults.cluster import PrivateCluster
from tests.faults.conftest import stored
from tests.faults.server import ApiProcess

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

WRITERS = 2
TIMEOUT = httpx.Timeout(30)  # generous on a loaded machine; a hang would still fail


@dataclass
class Outcome:
    external_id: str
    status: int | None  # None: no answer at all
    retry_after: str | None = None
    content_type: str = ""


@dataclass
class Portal:
    """Writers posting one response after another, each under a new external id."""

    base: str
    headers: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def count(self, *statuses: int | None) -> int:
        return sum(o.status in statuses for o in list(self.outcomes))

    def wait(self, until: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, f"gave up waiting; answers {self.tally()}"
            time.sleep(0.02)

    def tally(self) -> dict[int | None, int]:
        statuses = [o.status for o in list(self.outcomes)]
        return {status: statuses.count(status) for status in set(statuses)}

    def write(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=TIMEOUT) as client:
            while not self.done.is_set():
                external_id = uuid.uuid4().hex
                try:
                    r = client.post("/v1/responses", json=answer(external_id))
                except httpx.HTTPError:
                    self.outcomes.append(Outcome(external_id, None))
                    continue
                outcome = Outcome(
                    external_id,
                    r.status_code,
                    r.headers.get("retry-after"),
                    r.headers.get("content-type", ""),
                )
                self.outcomes.append(outcome)


@pytest.fixture
def portal(api: ApiProcess, admin: tuple[int, dict[str, str]]) -> Iterator[Portal]:
    portal = Portal(api.base, admin[1])
    writers = [threading.Thread(target=portal.write) for _ in range(WRITERS)]
    for writer in writers:
        writer.start()
    try:
        yield portal
    finally:
        portal.done.set()
        for writer in writers:
            writer.join(60)


def served_again(portal: Portal, since: int = 20) -> None:
    """Wait for ``since`` more stored responses than now."""
    target = portal.count(201) + since
    portal.wait(lambda: portal.count(201) >= target)


def assert_stored_exactly_once(
    portal: Portal, api: ApiProcess, engine: Engine, system_id: int
) -> None:
    """Every 2xx is stored once; the rest were 503 with Retry-After and are stored once
    when retried (a commit can succeed although its connection died before it was told)."""
    portal.done.set()
    outcomes = list(portal.outcomes)
    acknowledged = [o.external_id for o in outcomes if o.status == 201]
    refused = [o for o in outcomes if o.status != 201]
    assert {o.status for o in refused} <= {503}, portal.tally()
    assert all(o.retry_after and o.content_type == "application/problem+json" for o in refused)
    assert stored(engine, system_id, acknowledged) == dict.fromkeys(acknowledged, 1)

    with httpx.Client(base_url=api.base, headers=portal.headers, timeout=TIMEOUT) as client:
        retried = {
            client.post("/v1/responses", json=answer(o.external_id)).status_code for o in refused
        }
        assert retried <= {200, 201}
        assert client.get("/readyz").status_code == 200
    every = [o.external_id for o in outcomes]
    assert stored(engine, system_id, every) == dict.fromkeys(every, 1)


def test_a_restarted_database_is_unavailable_meanwhile_and_loses_nothing(
    cluster: PrivateCluster,
    api: ApiProcess,
    engine: Engine,
    admin: tuple[int, dict[str, str]],
    portal: Portal,
) -> None:
    served_again(portal)
    cluster.restart()
    served_again(portal)

    assert api.alive  # served again without a restart of its own
    assert portal.count(503) > 0, portal.tally()
    assert_stored_exactly_once(portal, api, engine, admin[0])


def test_a_killed_postmaster_is_unavailable_until_started_again_and_loses_nothing(
    cluster: PrivateCluster,
    api: ApiProcess,
    engine: Engine,
    admin: tuple[int, dict[str, str]],
    portal: Portal,
) -> None:
    served_again(portal)
    cluster.kill_postmaster()
    try:
        unavailable = portal.count(503) + 5
        portal.wait(lambda: portal.count(503) >= unavailable)
        ready = httpx.get(f"{api.base}/readyz", timeout=TIMEOUT)
    finally:
        cluster.start_after_crash()  # the tests after this one need it, whatever happened
    served_again(portal)

    assert ready.status_code == 503 and ready.headers["retry-after"]
    assert api.alive
    assert_stored_exactly_once(portal, api, engine, admin[0])
