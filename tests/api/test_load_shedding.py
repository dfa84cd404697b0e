"""A burst never wedges the service; SIGTERM drains; workers never outlive their master.

Each test runs `pulse serve` as a process of its own on the test's database, and drives it
over real connections. Before load shedding, 60 requests at once took 30 s (every thread
waiting for a pooled connection held by a request waiting for a thread) and /healthz hung
with them.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.test_races import open_system, remove_system
from tests.builders import bearer
from tests.net import free_port


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    admin: dict[str, str]


def start(database_url: str, *args: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """`pulse serve` on ``database_url`` on a free port, once it answers /healthz."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("pulse")), "serve", "--port", str(port), *args],
        env={
            **os.environ,
            "PULSE_DATABASE_URL": database_url,
            "PULSE_PUBLISH_INTERVAL": "0",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "the server did not start"
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(10)


@pytest.fixture
def served(database_url: str, engine: Engine) -> Iterator[Served]:
    system_id, key = open_system(engine, "burst")
    process, base = start(database_url)
    try:
        yield Served(process, base, bearer(key))
    finally:
        stop(process)
        remove_system(engine, system_id)


def warm(served: Served) -> None:
    """A few requests first, as a running service has had: the first ones build caches."""
    with httpx.Client(base_url=served.base, headers=served.admin, timeout=30) as client:
        for _ in range(5):
            assert client.get("/v1/teams").status_code == 200


def test_two_hundred_requests_at_once_are_each_answered_within_two_seconds(
    served: Served,
) -> None:
    warm(served)
    # Sent from a fresh process, so that the timings are the server's, not those of a test
    # process carrying the rest of the suite (its heap, its threads).
    run = subprocess.run(
        [sys.executable, "-m", "tests.api.burst", served.base, json.dumps(served.admin), "200"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(run.stdout)
    answers, health = [tuple(a) for a in seen["answers"]], seen["health"]
    statuses = {status for status, _ in answers}
    assert statuses <= {200, 201, 503}, statuses
    assert {200, 201} & statuses, "nothing was served"
    slowest = max(took for _, took in answers)
    assert slowest < 2, f"the slowest answer took {slowest:.2f} s"
    assert health and max(health) < 1, f"/healthz took up to {max(health):.2f} s"
    # And the service is whole right after.
    assert httpx.get(served.base + "/v1/teams", headers=served.admin).status_code == 200


def test_a_refused_request_says_overloaded_with_retry_after(served: Served) -> None:
    answers: list[httpx.Response] = []

    async def flood() -> None:
        limits = httpx.Limits(max_connections=300, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=served.base, timeout=30, limits=limits) as client:
            calls = [client.get("/v1/teams", headers=served.admin) for _ in range(300)]
            answers.extend(await asyncio.gather(*calls))

    asyncio.run(flood())
    refused = [r for r in answers if r.status_code == 503]
    assert refused, "300 requests at once were all admitted"
    problem = refused[0].json()
    assert problem["type"] == "/problems/overloaded"
    assert refused[0].headers["content-type"] == "application/problem+json"
    assert int(refused[0].headers["retry-after"]) >= 1


def test_sigterm_under_load_exits_within_ten_seconds(served: Served) -> None:
    async def load_then_terminate() -> float:
        limits = httpx.Limits(max_connections=60, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=served.base, timeout=5, limits=limits) as client:

            async def keep_asking() -> None:
                while served.process.poll() is None:
                    try:
                        await client.get("/v1/teams", headers=served.admin)
                    except httpx.HTTPError:
                        await asyncio.sleep(0.05)

            askers = [asyncio.create_task(keep_asking()) for _ in range(40)]
            await asyncio.sleep(1.5)
            served.process.send_signal(signal.SIGTERM)
            began = time.monotonic()
            while served.process.poll() is None and time.monotonic() - began < 20:
                await asyncio.sleep(0.05)
            took = time.monotonic() - began
            for asker in askers:
                asker.cancel()
            await asyncio.gather(*askers, return_exceptions=True)
            return took

    took = asyncio.run(load_then_terminate())
    assert served.process.poll() is not None, "the server was still running 20 s after SIGTERM"
    assert took < 10, f"the server took {took:.1f} s to exit after SIGTERM"


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its entry waits to be reaped


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_workers_stop_when_their_master_is_killed(database_url: str) -> None:
    process, _base = start(database_url, "--workers", "2")
    try:
        deadline = time.monotonic() + 60
        while len(workers := children(process.pid)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        process.kill()
        process.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in workers if alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, "workers outlived their master"
    finally:
        stop(process)
