"""The schema comes from the migrations: up, down and up again, matching the models."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.db import Base, make_engine
from app.migrate import current_revision, downgrade, head_revision, upgrade


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
