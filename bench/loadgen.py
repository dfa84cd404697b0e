"""An open-loop load generator, and a server's CPU time and memory read from /proc (Linux).

Open loop: request i is sent at ``start + i / rate`` whether or not earlier ones have been
answered, so a slow server meets the load it would meet in service instead of slowing the
generator down (a closed loop hides overload). Latency is measured from the scheduled
time, so time spent queued in the generator counts too. The generator is bounded: past
``bound`` requests awaiting an answer it sends no more (each such request is counted as
``unsent``), so it cannot itself wedge or grow without limit.
"""

import asyncio
import os
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Call:
    """One request of a workload: its kind (for the report), method, path and JSON body."""

    kind: str
    method: str
    path: str
    body: Any = None


@dataclass(frozen=True)
class Outcome:
    """What came of one call: its status (None: no answer, or never sent) and latency."""

    kind: str
    status: int | None
    latency: float
    failure: str | None = None
    late: float = 0.0  # seconds the generator sent it after its time (it must keep up)


@dataclass
class Tally:
    """Counts and latency quantiles of one kind of call."""

    count: int = 0
    ok: int = 0
    refused: int = 0  # 503: load shed or a deadline, each with Retry-After
    errors: int = 0  # anything but 2xx and 503: other statuses, no answer, not sent
    latencies: list[float] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the 2xx latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[round(q * 100) - 1] * 1000


def tally(outcomes: Iterable[Outcome]) -> dict[str, Tally]:
    """Outcomes grouped by kind, with a total under ``all``."""
    kinds: dict[str, Tally] = {}
    for outcome in outcomes:
        for name in (outcome.kind, "all"):
            t = kinds.setdefault(name, Tally())
            t.count += 1
            if outcome.status is not None and 200 <= outcome.status < 300:
                t.ok += 1
                t.latencies.append(outcome.latency)
            elif outcome.status == 503:
                t.refused += 1
            else:
                t.errors += 1
    return dict(sorted(kinds.items(), key=lambda item: (item[0] == "all", item[0])))


def report(kinds: dict[str, Tally]) -> str:
    """A fixed-width table of ``kinds``."""
    lines = [f"{'kind':<16}{'count':>8}{'2xx':>8}{'503':>7}{'errors':>8}"
             f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"]  # fmt: skip
    for name, t in kinds.items():
        lines.append(
            f"{name:<16}{t.count:>8}{t.ok:>8}{t.refused:>7}{t.errors:>8}"
            f"{t.quantile(0.5):>9.1f}{t.quantile(0.95):>9.1f}{t.quantile(0.99):>9.1f}"
        )
    return "\n".join(lines)


async def open_loop(
    client: httpx.AsyncClient,
    plan: Callable[[int], Call],
    rate: float,
    seconds: float,
    bound: int = 512,
) -> list[Outcome]:
    """Send ``plan(i)`` at ``rate`` per second for ``seconds``; every outcome, once answered."""
    loop = asyncio.get_running_loop()
    outcomes: list[Outcome] = []
    pending: set[asyncio.Task[None]] = set()

    async def send(call: Call, due: float) -> None:
        late = loop.time() - due
        try:
            answer = await client.request(call.method, call.path, json=call.body)
        except httpx.HTTPError as exc:
            failure = type(exc).__name__
            outcomes.append(Outcome(call.kind, None, loop.time() - due, failure, late))
            return
        outcomes.append(Outcome(call.kind, answer.status_code, loop.time() - due, None, late))

    start = loop.time()
    for i in range(round(rate * seconds)):
        due = start + i / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        call = plan(i)
        if len(pending) >= bound:
            outcomes.append(Outcome(call.kind, None, 0.0, "unsent"))
            continue
        task = asyncio.create_task(send(call, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    return outcomes


async def closed_loop(
    client: httpx.AsyncClient, plan: Callable[[int], Call], clients: int, seconds: float
) -> list[Outcome]:
    """``clients`` callers each sending ``plan(i)`` as soon as the last was answered."""
    loop = asyncio.get_running_loop()
    outcomes: list[Outcome] = []
    end = loop.time() + seconds
    counter = iter(range(1 << 62))

    async def caller() -> None:
        while loop.time() < end:
            call, began = plan(next(counter)), loop.time()
            try:
                answer = await client.request(call.method, call.path, json=call.body)
                outcomes.append(Outcome(call.kind, answer.status_code, loop.time() - began))
            except httpx.HTTPError as exc:
                outcomes.append(Outcome(call.kind, None, loop.time() - began, type(exc).__name__))

    await asyncio.gather(*(caller() for _ in range(clients)))
    return outcomes


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
        found.append(current)
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User and system CPU time used so far by ``pids`` (each process's own, not its children's)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rss_bytes(pids: Iterable[int]) -> int:
    """Resident memory of ``pids`` together."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except FileNotFoundError:
            continue
    return total
