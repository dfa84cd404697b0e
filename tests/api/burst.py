"""A burst of requests at once against a live server, while /healthz is polled.

Run as ``python -m tests.api.burst BASE_URL HEADERS_JSON AT_ONCE``; prints the status and
time of every answer, and the time of every /healthz answer, as JSON.
"""

import asyncio
import json
import sys
import threading
import time

import httpx


async def timed(
    client: httpx.AsyncClient, method: str, path: str, **kw: object
) -> tuple[int, float]:
    began = time.monotonic()
    response = await client.request(method, path, **kw)  # type: ignore[arg-type]
    return response.status_code, time.monotonic() - began


async def burst(
    base: str, admin: dict[str, str], at_once: int
) -> tuple[list[tuple[int, float]], list[float]]:
    """``at_once`` requests sent together (reads and posts), while /healthz is polled."""
    limits = httpx.Limits(max_connections=at_once + 5, max_keepalive_connections=0)
    done = threading.Event()
    health: list[float] = []

    def poll() -> None:
        # In a thread of its own, so that the burst's client work does not delay the probe.
        with httpx.Client(base_url=base, timeout=30) as prober:
            while not done.is_set():
                began = time.monotonic()
                assert prober.get("/healthz").status_code == 200
                health.append(time.monotonic() - began)
                time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        calls = []
        for i in range(at_once):
            if i % 3 == 2:
                answer = {"pulse": "p1", "team": "t1", "scores": {"purpose": 4}}
                post = {"json": {**answer, "external_id": f"burst-{i}"}}
                calls.append(timed(client, "POST", "/v1/responses", headers=admin, **post))
            else:
                calls.append(timed(client, "GET", "/v1/teams", headers=admin))
        answers = await asyncio.gather(*calls)
    done.set()
    poller.join()
    return answers, health


if __name__ == "__main__":
    answers, health = asyncio.run(burst(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])))
    print(json.dumps({"answers": answers, "health": health}))
