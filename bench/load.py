"""Mixed load on `pulse serve --workers 2` over PostgreSQL: errors, latency, CPU and memory.

    python bench/load.py [--rate 200] [--seconds 60] [--workers 2]
    python bench/load.py --soak [--soak-rate 50] [--soak-seconds 600]

Seeds the demo system (`pulse demo`: 40 teams in 5 places, six closed monthly pulses),
publishes its results (`pulse publish`), adds an open pulse for the posts, then drives the
service open loop (see bench/loadgen.py). Reads are 70% of the mix (warning signs of a
closed pulse, team and place scores, pages of the score and warning-sign feeds), posts
30% (two thirds single responses, one third batches of 20; every external id unique).

Phases: reads only, then writes only (each at its share of ``--rate``, for the CPU per
read and per write: the server processes' CPU time, read from /proc, over the requests
answered); a ramp of the mix at a quarter, half, all and one and a half times ``--rate``,
10 s each (answered work against offered: where it stops keeping up); then the mix at
``--rate`` for ``--seconds``. ``--soak`` instead runs the mix at ``--soak-rate`` and
samples the resident memory of the master and its workers every 10 s (series and slope).
Targets (issue 10): 0 errors at 200 requests/s, CPU well under 8 ms a request, flat memory.
Needs PostgreSQL on 127.0.0.1:5432 (or PULSE_BENCH_SERVER); Linux (/proc).
"""

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PULSE, ROOT, dsn, scratch_database, serve
from bench.loadgen import (
    Call,
    Outcome,
    cpu_seconds,
    open_loop,
    process_tree,
    report,
    rss_bytes,
    tally,
)

DATABASE = "pulse_bench_load"
READS = (
    ("warning signs", 0.25),
    ("team scores", 0.25),
    ("place scores", 0.15),
    ("feed page", 0.35),
)
WRITES = (("post single", 2 / 3), ("post batch", 1 / 3))
READ_SHARE = 0.7


class Workload:
    """The calls of the mix, drawn from the demo system's codes, pulses and feed pages."""

    def __init__(self, client: httpx.Client) -> None:
        self.rng = random.Random(10)
        teams = client.get("/v1/teams", params={"limit": 200}).json()["data"]
        self.teams = [t["code"] for t in teams]
        self.places = [p["code"] for p in client.get("/v1/places").json()["data"]]
        today = datetime.now(UTC).date()
        pulses = client.get("/v1/pulses", params={"limit": 100}).json()["data"]
        self.closed = [p["key"] for p in pulses if p["closes_on"] < today.isoformat()]
        opened = {"key": "load", "title": "Load", "opens_on": str(today - timedelta(days=1))}
        opened["closes_on"] = str(today + timedelta(days=30))
        assert client.post("/v1/pulses", json=opened).status_code == 201
        self.pages = self._pages(client, "/v1/feeds/scores?limit=200", 60)
        self.pages += self._pages(client, "/v1/feeds/warning-signs?limit=100", 10)

    @staticmethod
    def _pages(client: httpx.Client, path: str, most: int) -> list[str]:
        """The paths of the first ``most`` pages of a feed, following ``next``."""
        pages: list[str] = []
        while path and len(pages) < most:
            pages.append(path)
            following = client.get(path).json()["next"]
            path = "" if following is None else _path_of(following)
        return pages

    def read(self) -> Call:
        kind = self.rng.choices([k for k, _ in READS], [w for _, w in READS])[0]
        if kind == "warning signs":
            query = f"pulse={self.rng.choice(self.closed)}"
            if self.rng.random() < 0.5:
                query += f"&place={self.rng.choice(self.places)}"
            return Call(kind, "GET", f"/v1/warning-signs?{query}")
        if kind == "team scores":
            return Call(kind, "GET", f"/v1/teams/{self.rng.choice(self.teams)}/scores")
        if kind == "place scores":
            return Call(kind, "GET", f"/v1/places/{self.rng.choice(self.places)}/scores")
        return Call(kind, "GET", self.rng.choice(self.pages))

    def write(self) -> Call:
        if self.rng.random() < WRITES[0][1]:
            return Call("post single", "POST", "/v1/responses", self._answer())
        batch = {"responses": [self._answer() for _ in range(20)]}
        return Call("post batch", "POST", "/v1/responses/batch", batch)

    def mixed(self) -> Call:
        return self.read() if self.rng.random() < READ_SHARE else self.write()

    def _answer(self) -> dict[str, Any]:
        scores = {d: self.rng.randint(1, 5) for d in ("purpose", "support", "belief")}
        return {
            "pulse": "load",
            "team": self.rng.choice(self.teams),
            "scores": scores,
            "role": "frontline",
            "external_id": f"load-{uuid.uuid4().hex}",
        }


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def seed(url: str) -> str:
    """The demo system with its results published; its admin key."""
    env = {**os.environ, "PULSE_DATABASE_URL": url}
    made = subprocess.run(
        [PULSE, "demo"], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    subprocess.run([PULSE, "publish"], env=env, cwd=ROOT, capture_output=True, check=True)
    return made.stdout.strip()


class Server:
    """CPU time of the server's processes and of its database's backends, and their memory."""

    def __init__(self, pid: int, url: str) -> None:
        self.pid = pid
        self.dsn = dsn(url)

    def backends(self) -> list[int]:
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        return [pid for (pid,) in rows]

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(process_tree(self.pid)), cpu_seconds(self.backends())

    def rss(self) -> int:
        return rss_bytes(process_tree(self.pid))


async def phase(
    name: str,
    base: str,
    key: str,
    server: Server,
    plan: Callable[[int], Call],
    rate: float,
    seconds: float,
) -> tuple[list[Outcome], float]:
    """Run one phase and print its table and CPU per answered request; outcomes and seconds."""
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=10, limits=limits
    ) as client:
        (app0, db0), client0, began = server.cpu(), time.process_time(), time.monotonic()
        outcomes = await open_loop(client, plan, rate, seconds)
        (app1, db1), client1 = server.cpu(), time.process_time()
        took = time.monotonic() - began
    kinds = tally(outcomes)
    answered = kinds["all"].ok + kinds["all"].refused
    print(f"\n== {name}: {rate:g} requests/s for {seconds:g} s (took {took:.1f} s)")
    print(report(kinds))
    if answered:
        print(
            f"server CPU {(app1 - app0) * 1000 / answered:.2f} ms a request answered "
            f"({(app1 - app0) / took:.2f} cores); its PostgreSQL backends "
            f"{(db1 - db0) * 1000 / answered:.2f} ms; this generator "
            f"{(client1 - client0) * 1000 / len(outcomes):.2f} ms a request; "
            f"2xx answered {kinds['all'].ok / took:.1f}/s of {rate:g}/s offered "
            f"({kinds['all'].ok / took / rate:.2f}x)"
        )
    return outcomes, took


async def benchmark(args: argparse.Namespace, base: str, key: str, server: Server) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        work = Workload(client)
    print(f"{len(work.teams)} teams, {len(work.places)} places, {len(work.closed)} closed pulses")
    await phase("warm-up", base, key, server, lambda _: work.mixed(), 20, 5)
    rate = args.rate
    if args.soak:
        await soak(args, base, key, server, work)
        return
    await phase("reads only", base, key, server, lambda _: work.read(), rate * READ_SHARE, 20)
    writes = rate * (1 - READ_SHARE)
    await phase("writes only", base, key, server, lambda _: work.write(), writes, 20)
    ramp = []
    for share in (0.25, 0.5, 1, 1.5):
        plan = lambda _: work.mixed()  # noqa: E731
        outcomes, took = await phase("ramp", base, key, server, plan, rate * share, 10)
        ramp.append((rate * share, tally(outcomes)["all"].ok / took))
    print("\n== ramp: 2xx answered per second / offered, against the lowest step")
    low = ramp[0][1] / ramp[0][0]
    for offered, done in ramp:
        print(f"{offered:>6.0f}/s offered: {done:>6.1f}/s answered, {done / offered / low:.2f}x")
    await phase("mixed", base, key, server, lambda _: work.mixed(), rate, args.seconds)


async def soak(
    args: argparse.Namespace, base: str, key: str, server: Server, work: Workload
) -> None:
    """The mix at ``--soak-rate`` while resident memory is sampled every 10 s."""
    samples: list[tuple[float, float]] = []
    began = time.monotonic()

    async def sample() -> None:
        while True:
            samples.append((time.monotonic() - began, server.rss() / 2**20))
            await asyncio.sleep(10)

    sampler = asyncio.create_task(sample())
    plan = lambda _: work.mixed()  # noqa: E731
    await phase("soak", base, key, server, plan, args.soak_rate, args.soak_seconds)
    sampler.cancel()
    samples.append((time.monotonic() - began, server.rss() / 2**20))
    print("\n== resident memory of the master and its workers (s, MiB)")
    print(" ".join(f"{t:.0f}:{mib:.0f}" for t, mib in samples))
    fit = statistics.linear_regression([t for t, _ in samples], [m for _, m in samples])
    print(
        f"first {samples[0][1]:.0f} MiB, last {samples[-1][1]:.0f} MiB, "
        f"slope {fit.slope * 60:.2f} MiB a minute"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--soak", action="store_true")
    parser.add_argument("--soak-rate", type=float, default=50)
    parser.add_argument("--soak-seconds", type=float, default=600)
    args = parser.parse_args()
    with scratch_database(DATABASE) as url:
        key = seed(url)
        with serve(url, args.workers) as (process, base):
            asyncio.run(benchmark(args, base, key, Server(process.pid, url)))


if __name__ == "__main__":
    main()
