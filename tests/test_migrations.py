"""The schema comes from the migrations: up, down and up again, matching the models."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, make_url, text

from app.db import Base, make_engine
from app.migrate import current_revision, downgrade, head_revision, upgrade
from tests.conftest import PG_URL


@pytest.fixture(params=["sqlite", *(["postgresql"] if PG_URL else [])])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, apart from the one the other tests use."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    assert PG_URL is not None
    base = make_url(PG_URL)
    name = f"{base.database}_migrations"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_go_up_down_and_up_again(scratch_url: str) -> None:
    upgrade(scratch_url)
    assert tables(scratch_url) == set(Base.metadata.tables)
    downgrade(scratch_url, "base")
    assert tables(scratch_url) == set()
    upgrade(scratch_url)
    engine = make_engine(scratch_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_match_the_migrations(scratch_url: str) -> None:
    upgrade(scratch_url)
    engine = make_engine(scratch_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_each_migration_file_is_named_by_date_and_slug(project_root: Path) -> None:
    names = [p.name for p in (project_root / "migrations" / "versions").glob("*.py")]
    assert names
    for name in names:
        day, _, slug = name.removesuffix(".py").partition("_")
        assert len(day) == 10 and day[4] == day[7] == "-" and slug, name
