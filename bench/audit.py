"""What recording every use of a key costs: in the request, and in the database after it.

    python bench/audit.py [--requests 100000] [--records 20000]

In the request: the same trivial ASGI app called ``--requests`` times bare and wrapped in
``KeyUseMiddleware`` (a key found, a record buffered), the difference per request. After
it: ``--records`` buffered records written by ``KeyUseRecorder.flush`` in batches of 200
(one second at 200 requests/s) on SQLite and on PostgreSQL, the time per record.
"""

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import make_engine, make_sessionmaker
from app.migrate import upgrade
from app.models import System
from app.services.audit import Event
from app.usage import KeyUseMiddleware, KeyUseRecorder, key_found
from app.vocab import AuditAction, AuditTarget
from bench.common import scratch_database

KEY = uuid.uuid4()
BATCH = 200


class Route:
    path = "/v1/places/{code}"


async def endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
    key_found(1, KEY)
    scope["route"] = Route
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def sink(message: Any) -> None:
    return None


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


def per_request(app: Any, requests: int) -> float:
    """Seconds per request of ``app``, called ``requests`` times."""

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(requests):
            await app({"type": "http", "method": "GET", "path": "/v1/places/x"}, receive, sink)
        return (time.perf_counter() - start) / requests

    return asyncio.run(run())


def in_the_request(requests: int) -> tuple[float, float]:
    recorder = KeyUseRecorder(
        lambda: None,  # type: ignore[arg-type,return-value]
        lambda: datetime.now(UTC),
        capacity=requests + 1,
        flush_interval=0,
        retention_days=400,
    )
    wrapped = KeyUseMiddleware(endpoint, recorder=lambda: recorder)
    per_request(wrapped, 1000)  # warm up
    bare = min(per_request(endpoint, requests) for _ in range(3))
    audited = min(per_request(wrapped, requests) for _ in range(3))
    assert len(recorder._buffer) >= requests
    return bare, audited


def per_record(url: str, records: int) -> float:
    """Seconds per record written by the recorder into the database at ``url``."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        session.add(System(id=1, slug="bench", name="Bench", created_at=now, updated_at=now))
    recorder = KeyUseRecorder(
        factory, lambda: now, capacity=BATCH, flush_interval=0, retention_days=400
    )
    event = Event(1, KEY, AuditAction.key_use, AuditTarget.route, "GET /v1/places/{code}", 200, now)
    start = time.perf_counter()
    for _ in range(records // BATCH):
        for _ in range(BATCH):
            recorder.add(event)
        assert recorder.flush() == BATCH
    seconds = (time.perf_counter() - start) / (records // BATCH * BATCH)
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    bare, audited = in_the_request(args.requests)
    print(f"in the request: bare {bare * 1e6:.1f} µs, recorded {audited * 1e6:.1f} µs")
    print(f"  cost {(audited - bare) * 1e6:.1f} µs per request")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/audit.db"
        upgrade(url)
        sqlite = per_record(url, args.records)
    with scratch_database("pulse_bench_audit") as url:
        postgresql = per_record(url, args.records)
    for name, seconds in (("SQLite", sqlite), ("PostgreSQL", postgresql)):
        print(
            f"written, {name}: {seconds * 1e6:.1f} µs per record "
            f"({seconds * BATCH * 1e3:.1f} ms per batch of {BATCH})"
        )


if __name__ == "__main__":
    main()
