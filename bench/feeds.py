"""Streaming a feed as NDJSON from PostgreSQL, against PostgreSQL's own COPY of the same rows.

    python bench/feeds.py [--rows 1000000]

Loads ``--rows`` score-feed rows (synthetic cells of six closed pulses, results marked
current), then times `COPY (SELECT ... ORDER BY updated_at, id) TO STDOUT` and
`GET /v1/feeds/scores?format=ndjson&limit=ROWS` through the HTTP API, and reports the
server's peak memory (VmHWM) before and after. Targets: >= 100,000 rows/s; memory flat.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import make_engine
from app.models import Publication, Pulse, System
from app.services.results import publish
from app.vocab import DIMENSIONS
from bench.common import PULSE, ROOT, dsn, free_port, make_structure, scratch_database
from bench.insights import monthly_pulses

COLUMNS = (
    "public_id, system_id, pulse_id, scope, place, team, dimension, segment_type, segment, "
    "n, mean, sd, ci_low, ci_high, suppressed, updated_at"
)
TEAMS = 2000
# The feed's columns, names and pulse dates joined in as the feed joins them.
SELECT = (
    "SELECT c.public_id AS id, p.key AS pulse, p.title, p.opens_on, p.closes_on, c.scope, "
    "c.place, pl.name, c.team, t.name, c.dimension, c.segment_type, c.segment, "
    "c.n, c.mean, c.sd, c.ci_low, c.ci_high, c.suppressed, c.revision_withheld, "
    "c.updated_at, c.withdrawn_at "
    "FROM score_cell c JOIN pulse p ON p.id = c.pulse_id "
    "JOIN place pl ON pl.system_id = c.system_id AND pl.code = c.place "
    "LEFT JOIN team t ON t.system_id = c.system_id AND t.code = c.team "
    "WHERE c.system_id = 1 ORDER BY c.updated_at, c.id"
)


def load(url: str, rows: int) -> None:
    """``rows`` cells spread over the pulses, and publications that mark them current."""
    now = datetime.now(UTC)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        system = session.get_one(System, 1)
        pulses = list(session.scalars(select(Pulse).order_by(Pulse.opens_on)))
        pulse_ids = [p.id for p in pulses]
        for pulse in pulses:
            key = publish._inputs(session, system, pulse, now, None).key
            session.add(
                Publication(
                    system_id=1, pulse_id=pulse.id, inputs=key, rules_version=1, computed_at=now
                )
            )
    engine.dispose()
    with psycopg.connect(dsn(url)) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY score_cell ({COLUMNS}) FROM STDIN") as copy:
            for i in range(rows):
                pulse = pulse_ids[i % len(pulse_ids)]
                team = f"team-{(i // 30) % TEAMS:05d}"
                suppressed = i % 4 == 0
                numbers = (None,) * 5 if suppressed else (12, 3.75, 0.81, 3.24, 4.26)
                copy.write_row(
                    (
                        str(uuid.UUID(int=i)),
                        1,
                        pulse,
                        "team",
                        "place-000",
                        team,
                        DIMENSIONS[i % 5],
                        None,
                        None,
                        *numbers,
                        suppressed,
                        now + timedelta(microseconds=i),
                    )
                )
        conn.commit()
    # A million rows loaded at once: statistics as autovacuum would soon gather them, so
    # that both sides are planned as on a live database (without them both sort on disk).
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("ANALYZE")


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with scratch_database("pulse_bench_feeds") as url:
        key = make_structure(url, TEAMS, 1, monthly_pulses(6))
        load(url, args.rows)
        with psycopg.connect(dsn(url)) as conn, conn.cursor() as cursor:
            start = time.perf_counter()
            size = 0
            with cursor.copy(f"COPY ({SELECT}) TO STDOUT") as copy:
                for block in copy:
                    size += len(block)
            copy_s = time.perf_counter() - start
        port = free_port()
        env = {**os.environ, "PULSE_DATABASE_URL": url}
        server = subprocess.Popen(
            [PULSE, "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            headers = {"Authorization": f"Bearer {key}"}
            httpx.get(f"{base}/v1/feeds/scores?limit=10", headers=headers, timeout=600)
            before = peak_rss_kib(server.pid)
            url_ = f"{base}/v1/feeds/scores?format=ndjson&limit={args.rows}"
            start = time.perf_counter()
            lines = 0
            with httpx.stream("GET", url_, headers=headers, timeout=600) as response:
                assert response.status_code == 200, response.read()
                for chunk in response.iter_bytes():
                    lines += chunk.count(b"\n")
            api_s = time.perf_counter() - start
            after = peak_rss_kib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    assert lines == args.rows, lines
    print(f"rows: {args.rows:,}")
    print(f"PostgreSQL COPY ... TO STDOUT: {args.rows / copy_s:,.0f} rows/s ({copy_s:.2f} s)")
    print(f"API NDJSON stream: {args.rows / api_s:,.0f} rows/s ({api_s:.2f} s) (target >= 100,000)")
    print(f"API / COPY: {copy_s / api_s:.2f}x")
    print(
        f"server peak RSS: {before / 1024:.0f} MiB before the stream, {after / 1024:.0f} MiB after"
    )


if __name__ == "__main__":
    main()
