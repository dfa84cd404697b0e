"""Fault tests: a private PostgreSQL cluster and SQLite files, served by live API processes.

Unlike the rest of the suite these tests commit for real and crash things (the database,
the API), so they never use the machine's own PostgreSQL server and run on both backends
whether or not PULSE_TEST_DATABASE_URL is set.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, NullPool, create_engine, func, select, text
from sqlalchemy.orm import Session

from app.db import make_engine
from app.migrate import upgrade
from app.models import Response
from tests.api.test_races import open_system, remove_system
from tests.builders import bearer
from tests.faults.cluster import PrivateCluster, postgres_bin
from tests.faults.server import ApiProcess

PULSE = str(Path(sys.executable).with_name("pulse"))


def migrate(url: str) -> None:
    """Migrate ``url`` to the newest schema with the command line, as a deployment does."""
    env = {**os.environ, "PULSE_DATABASE_URL": url}
    subprocess.run([PULSE, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def cluster() -> Iterator[PrivateCluster]:
    """A PostgreSQL 15 cluster of this run, on a port of its own, stopped and removed after."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL 15 server binaries (initdb, pg_ctl) are not installed")
    cluster = PrivateCluster(bin_dir)
    try:
        cluster.start()
        admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE pulse"))
        migrate(cluster.url("pulse"))
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('faults') / 'pulse.db'}"
    upgrade(url)  # in this process: the command is run on the cluster's database
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of each backend; PostgreSQL is the private cluster."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    cluster: PrivateCluster = request.getfixturevalue("cluster")
    return cluster.url("pulse")


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine for arranging and checking: no pool, so no connection outlives a crash."""
    engine = make_engine(database_url, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def api(database_url: str) -> Iterator[ApiProcess]:
    """A live API server on the test's database, stopped after the test."""
    server = ApiProcess(database_url).start()
    yield server
    server.stop()


@pytest.fixture
def admin(engine: Engine) -> Iterator[tuple[int, dict[str, str]]]:
    """A system with team t1 and open pulse p1, and the headers of its admin key."""
    system_id, key = open_system(engine, "fault")
    yield system_id, bearer(key)
    remove_system(engine, system_id)


def stored(engine: Engine, system_id: int, external_ids: list[str]) -> dict[str, int]:
    """How many rows the system holds of each of ``external_ids`` that it holds at all."""
    with Session(engine) as session:
        query = (
            select(Response.external_id, func.count())
            .where(Response.system_id == system_id, Response.external_id.in_(external_ids))
            .group_by(Response.external_id)
        )
        return {str(external_id): count for external_id, count in session.execute(query)}
