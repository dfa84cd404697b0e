"""Helpers shared by the benchmarks: a scratch PostgreSQL database, a live server, timing."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from app.auth import key_secret
from app.db import make_engine
from app.migrate import upgrade
from app.models import Organisation, Place, Pulse, Team
from app.services.keys import create_key, create_system
from app.settings import Settings
from app.vocab import OrganisationKind, Scope

ROOT = Path(__file__).resolve().parent.parent
PULSE = str(Path(sys.executable).parent / "pulse")
SERVER = os.environ.get("PULSE_BENCH_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")


def dsn(url: str) -> str:
    """A libpq connection string for a SQLAlchemy URL."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    admin = dsn(f"{SERVER}/postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{SERVER}/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_structure(url: str, teams: int, places: int, pulses: list[tuple[str, date, date]]) -> str:
    """A system with places, organisations of every kind, teams and pulses; an admin key."""
    now = datetime.now(UTC)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        system = create_system(session, "bench", "Bench ICS", now)
        orgs = []
        for kind in OrganisationKind:
            org = Organisation(
                system_id=system.id,
                code=f"org-{kind.value}",
                name=kind.value,
                kind=kind.value,
                created_at=now,
                updated_at=now,
            )
            orgs.append(org)
        place_rows = [
            Place(
                system_id=system.id,
                code=f"place-{p:03d}",
                name=f"Place {p}",
                created_at=now,
                updated_at=now,
            )
            for p in range(places)
        ]
        session.add_all(orgs + place_rows)
        session.flush()
        session.add_all(
            Team(
                system_id=system.id,
                code=f"team-{t:05d}",
                name=f"Team {t}",
                place_id=place_rows[t % places].id,
                host_organisation_id=orgs[t % len(orgs)].id,
                headcount=20,
                formed_on=date(2024, 1, 1),
                created_at=now,
                updated_at=now,
            )
            for t in range(teams)
        )
        session.add_all(
            Pulse(
                system_id=system.id,
                key=key,
                title=key,
                opens_on=opens,
                closes_on=closes,
                created_at=now,
                updated_at=now,
            )
            for key, opens, closes in pulses
        )
        _row, key = create_key(
            session, system.id, key_secret(session, Settings()), [Scope.admin], now
        )
    engine.dispose()
    return key


def open_pulse() -> tuple[str, date, date]:
    today = datetime.now(UTC).date()
    return ("bench-open", today - timedelta(days=1), today + timedelta(days=1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(url: str, workers: int = 1, log: Path | None = None) -> Iterator[str]:
    """`pulse serve` on a free loopback port, against ``url``; its log to ``log``, if given."""
    with serve(url, workers, log=log) as (_process, base):
        yield base


@contextmanager
def serve(
    url: str, workers: int = 1, log: Path | None = None, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`pulse serve` on a free loopback port, against ``url``, with ``PULSE_*`` overrides;
    its log (standard error) to the file ``log``, if given."""
    port = free_port()
    env = {**os.environ, "PULSE_DATABASE_URL": url, "PULSE_MAX_BODY_BYTES": str(64 << 20), **env}
    cmd = [PULSE, "serve", "--port", str(port), "--workers", str(workers)]
    errors = subprocess.DEVNULL if log is None else log.open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start")
        yield proc, base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if not isinstance(errors, int):
            errors.close()


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"
