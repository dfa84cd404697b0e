"""Batch ingest on PostgreSQL: the HTTP API and `pulse import` against the bare psycopg driver.

    python bench/ingest.py [--rows 100000]

Prints rows per second for each, and the API's ratio to the bare driver (target >= 0.5), and
`pulse import`'s rate (target >= 50,000 rows/s). Needs PostgreSQL on 127.0.0.1:5432
(or PULSE_BENCH_SERVER) with rights to create databases.
"""

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.imports import COLUMNS
from app.vocab import DIMENSIONS
from bench.common import PULSE, dsn, live_server, make_structure, open_pulse, rate, scratch_database

ROLES = ("frontline", "frontline", "frontline", "team_lead", "manager", "senior_leader")
PROFESSIONS = ("nursing", "social_work", "therapy", "medical", "care_support", "admin", "other")
KINDS = (
    "nhs_trust",
    "local_authority",
    "primary_care",
    "voluntary_sector",
    "independent_provider",
    "other",
)
TEAMS = 200
BATCH = 5000


def responses(count: int, pulse: str, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        scores = {d: rng.randint(1, 5) for d in DIMENSIONS if rng.random() > 0.05}
        scores = scores or {"support": 3}
        out.append(
            {
                "pulse": pulse,
                "team": f"team-{rng.randrange(TEAMS):05d}",
                "scores": scores,
                "role": rng.choice(ROLES),
                "profession": rng.choice(PROFESSIONS),
                "organisation": f"org-{rng.choice(KINDS)}",
                "submitted_at": "2026-11-20T09:30:00Z",
                "external_id": f"{seed}-{i}",
            }
        )
    return out


def bench_api(url: str, key: str, rows: list[dict[str, object]]) -> float:
    bodies = [json.dumps({"responses": rows[i : i + BATCH]}) for i in range(0, len(rows), BATCH)]
    with live_server(url) as base, httpx.Client(base_url=base, timeout=120) as client:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        start = time.perf_counter()
        for body in bodies:
            response = client.post("/v1/responses/batch", content=body, headers=headers)
            assert response.status_code == 201, response.text
        return time.perf_counter() - start


def bench_driver(url: str, rows: list[dict[str, object]]) -> float:
    """The same rows, as the table stores them, by psycopg executemany in batches of 1,000."""
    with psycopg.connect(dsn(url)) as conn:
        conn.execute("CREATE TABLE bench_response (LIKE response INCLUDING ALL)")
        ids = {
            name: dict(conn.execute(f"SELECT code, id FROM {table}").fetchall())
            for name, table in [("team", "team"), ("organisation", "organisation")]
        }
        system_id, pulse_id = conn.execute(
            "SELECT system_id, id FROM pulse WHERE key = 'bench-open'"
        ).fetchone()
        conn.commit()
        now = datetime.now(UTC)
        tuples = [
            (
                uuid.uuid4(),
                system_id,
                pulse_id,
                ids["team"][r["team"]],
                ids["organisation"][r["organisation"]],
                r["role"],
                r["profession"],
                *(None if d not in r["scores"] else int(r["scores"][d]) * 100 for d in DIMENSIONS),  # type: ignore[operator]
                datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
                now,
                r["external_id"],
                "0" * 64,
            )
            for r in rows
        ]
        sql = (
            "INSERT INTO bench_response (id, system_id, pulse_id, team_id, organisation_id, "
            "role, profession, "
            + ", ".join(DIMENSIONS)
            + ", submitted_at, received_at, external_id, fingerprint) VALUES ("
            + ", ".join(["%s"] * 16)
            + ")"
        )
        start = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, len(tuples), 1000):
                cur.executemany(sql, tuples[i : i + 1000])
                conn.commit()
        return time.perf_counter() - start


def bench_import(url: str, rows: list[dict[str, object]], folder: Path) -> float:
    path = folder / "responses.csv"
    columns = list(COLUMNS)  # the import's own
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for r in rows:
            scores = r["scores"]
            assert isinstance(scores, dict)
            writer.writerow(
                [
                    r["pulse"],
                    r["team"],
                    *(scores.get(d, "") for d in DIMENSIONS),
                    r["role"],
                    r["profession"],
                    r["organisation"],
                    r["submitted_at"],
                    r["external_id"],
                ]
            )
    start = time.perf_counter()
    result = subprocess.run(
        [PULSE, "import", str(path), "--system", "bench"],
        env={"PULSE_DATABASE_URL": url, "PATH": ""},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    api_rows = responses(args.rows, "bench-open", seed=1)
    import_rows = responses(args.rows * 2, "bench-open", seed=2)
    # A database of this run's own, so that two runs at once do not drop each other's.
    scratch = f"pulse_bench_ingest_{os.getpid()}"
    with scratch_database(scratch) as url, tempfile.TemporaryDirectory() as folder:
        key = make_structure(url, TEAMS, 20, [open_pulse()])
        driver = bench_driver(url, api_rows)
        api = bench_api(url, key, api_rows)
        imported = bench_import(url, import_rows, Path(folder))
    print(
        f"rows: {args.rows:,} through the API and the driver; "
        f"{args.rows * 2:,} through pulse import"
    )
    print(f"bare psycopg executemany (batches of 1,000): {rate(args.rows, driver)}")
    print(f"HTTP API, POST /v1/responses/batch of {BATCH:,}: {rate(args.rows, api)}")
    print(f"API / driver: {driver / api:.2f}x (target >= 0.50)")
    print(
        f"pulse import (whole command, {args.rows * 2:,} rows): "
        f"{rate(args.rows * 2, imported)} (target >= 50,000)"
    )


if __name__ == "__main__":
    main()
