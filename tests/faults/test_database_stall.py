"""A database that stops answering (its cluster SIGSTOPped for 10 s) under load.

Before, requests and /readyz hung for as long as the database did, with no statement or
connect timeout, and a 10 s stall at 20 requests/s left the server wedged for minutes.
Now every request is answered within its deadline (503 with Retry-After), /healthz at
once, and full service is back within 2 s of the database.
"""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.faults.cluster import PrivateCluster
from tests.faults.server import ApiProcess

DEADLINE = 3  # seconds: the server's request and statement timeouts in this test
STALL = 10  # seconds the database is stopped


@dataclass
class Load:
    """Clients asking steadily (about 20 requests/s in all), recording every answer."""

    base: str
    headers: dict[str, str]
    answers: list[tuple[float, float, int | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def ask(self, number: int) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                began = time.monotonic()
                try:
                    if i % 2:
                        answer = client.get("/v1/teams")
                    else:
                        body = {"pulse": "p1", "team": "t1", "scores": {"purpose": 3}}
                        body["external_id"] = f"stall-{number}-{i}"
                        answer = client.post("/v1/responses", json=body)
                    status: int | None = answer.status_code
                    if status == 503:
                        assert "retry-after" in answer.headers
                except httpx.TransportError:
                    status = None
                self.answers.append((began, time.monotonic() - began, status))
                time.sleep(0.2)


@pytest.fixture
def cluster_api(cluster: PrivateCluster) -> Iterator[ApiProcess]:
    server = ApiProcess(
        cluster.url("pulse"),
        PULSE_REQUEST_TIMEOUT=str(DEADLINE),
        PULSE_DB_STATEMENT_TIMEOUT=str(DEADLINE),
        PULSE_DB_POOL_TIMEOUT="1",
    ).start()
    yield server
    server.stop()


def test_a_stalled_database_gets_503s_within_the_deadline_and_service_back_at_once(
    cluster: PrivateCluster,
    cluster_api: ApiProcess,
    admin: tuple[int, dict[str, str]],
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the stall is the private PostgreSQL cluster's")
    _system_id, headers = admin
    load = Load(cluster_api.base, headers)
    askers = [threading.Thread(target=load.ask, args=(n,)) for n in range(4)]
    for asker in askers:
        asker.start()
    health: list[float] = []
    try:
        time.sleep(1.5)
        stopped = time.monotonic()
        cluster.freeze()
        try:
            with httpx.Client(base_url=cluster_api.base, timeout=30) as prober:
                while time.monotonic() - stopped < STALL:
                    began = time.monotonic()
                    assert prober.get("/healthz").status_code == 200
                    health.append(time.monotonic() - began)
                    time.sleep(0.2)
        finally:
            cluster.thaw()
        resumed = time.monotonic()
        with httpx.Client(base_url=cluster_api.base, headers=headers, timeout=30) as client:
            while client.get("/v1/teams").status_code != 200:
                assert time.monotonic() - resumed < 10, "no service 10 s after the database"
                time.sleep(0.05)
        back_after = time.monotonic() - resumed
        time.sleep(1)
    finally:
        load.stop.set()
        for asker in askers:
            asker.join(60)

    during = [(took, status) for began, took, status in load.answers if stopped <= began < resumed]
    assert during, "no request was sent while the database was stopped"
    assert {status for _, status in during} <= {200, 201, 503}, during
    assert 503 in {status for _, status in during}
    slowest = max(took for took, _ in during)
    assert slowest < DEADLINE + 2, f"a request took {slowest:.1f} s while the database was stopped"
    assert max(health) < 1, f"/healthz took up to {max(health):.2f} s"
    assert back_after < 2, f"full service came back {back_after:.1f} s after the database"
    later = [status for began, _, status in load.answers if began > resumed + back_after]
    assert later and set(later) <= {200, 201}, later
