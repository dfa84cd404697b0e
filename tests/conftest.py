"""Test databases built by running the migrations; each test rolled back.

Every test that takes ``db`` runs on SQLite, and again on PostgreSQL when
PULSE_TEST_DATABASE_URL is set.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.api.deps import get_now
from app.cli import cli
from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.services.results import assessments
from app.settings import Settings

# On a slow, shared test machine a first read computing every pulse of the demo can take
# longer than the service's deadline for a request; tests of the deadline set their own.
os.environ.setdefault("PULSE_REQUEST_TIMEOUT", "600")

PG_URL = os.environ.get("PULSE_TEST_DATABASE_URL")
# Large bodies are checked in a worker thread, not a process started with every app (and
# every command the tests run); the tests of that process start it themselves.
os.environ.setdefault("PULSE_BODY_CHECK_WORKERS", "0")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
# "postgresql": run only the tests that run on PostgreSQL (a second pass after a SQLite one).
ONLY_BACKEND = os.environ.get("PULSE_TEST_ONLY_BACKEND")
# Fixtures parametrised by backend (params: the names in BACKENDS).
BACKEND_FIXTURES = ("database_url", "scratch_url")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With PULSE_TEST_ONLY_BACKEND, deselect every test that does not run on that backend."""
    if not ONLY_BACKEND:
        return
    if ONLY_BACKEND not in BACKENDS:
        raise pytest.UsageError(f"PULSE_TEST_ONLY_BACKEND={ONLY_BACKEND} is not a backend here")
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        backends = {params.get(name) for name in BACKEND_FIXTURES}
        (keep if ONLY_BACKEND in backends else drop).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep


def reset_postgres(url: str) -> None:
    """Empty the PostgreSQL test database, so the migrations start from nothing."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a freshly migrated database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'pulse.db'}"
    else:
        assert PG_URL is not None
        url = PG_URL
        reset_postgres(url)
    upgrade(url)
    return url


@pytest.fixture(params=BACKENDS)
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, apart from the one the other tests use."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    assert PG_URL is not None
    base = make_url(PG_URL)
    name = f"{base.database}_scratch"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(autouse=True)
def forget_assessments() -> Iterator[None]:
    """Each test starts with no assessment kept in memory.

    The tests roll their writes back, so on SQLite the next test's rows reuse the same ids
    at the same editions (and a fixed clock), which a running service never sees.
    """
    assessments.KEPT.clear()
    yield
    assessments.KEPT.clear()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits become savepoints of the test's transaction."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and inspecting data."""
    with session_factory() as session:
        yield session


class Clock:
    """A clock the tests set; the app reads it through the ``get_now`` dependency."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_settings(database_url: str) -> Settings:
    # The requests of a test share its connection, which a publisher thread must not use,
    # nor the key-use recorder's (tests write its records with ``app.state.key_uses.flush()``).
    return Settings(
        database_url=database_url,
        max_body_bytes=1_000_000,
        publish_interval=0,
        audit_flush_interval=0,
    )


@pytest.fixture
def client(
    app_settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: Clock,
) -> Iterator[TestClient]:
    """An API client whose requests run inside the test's transaction."""
    app = create_app(app_settings, engine=engine)
    app.dependency_overrides[get_now] = clock
    with TestClient(app, base_url="https://testserver") as test_client:
        app.state.sessionmaker = session_factory
        yield test_client


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BuiltDemo:
    """`pulse demo` as run once for the session: its database and what it printed."""

    url: str
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> BuiltDemo:
    """The demo, built once by the command line on SQLite."""
    # Building it takes most of a minute; its readers (test_demo, tests/view) only read it.
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    runner = CliRunner()
    env = {"PULSE_DATABASE_URL": url}
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    made = runner.invoke(cli, ["demo"], env=env)
    return BuiltDemo(url, made.exit_code, made.stdout, made.stderr)
