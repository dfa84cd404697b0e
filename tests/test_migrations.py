"""The schema comes from the migrations: up, down and up again, matching the models."""

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import Base, make_engine
from app.migrate import current_revision, downgrade, head_revision, upgrade
from app.models import ScoreCell, System
from app.services.keys import create_system
from app.services.structure import create_pulse


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


def test_a_score_cell_is_of_its_pulses_system(scratch_url: str) -> None:
    # One foreign key (system, pulse) checks both, and that they go together.
    upgrade(scratch_url)
    engine = make_engine(scratch_url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    try:
        with Session(engine) as session, session.begin():
            for slug in ("north", "south"):
                create_system(session, slug, f"{slug} ICS", now)
            north, south = session.scalars(select(System).order_by(System.slug)).all()
            pulse = create_pulse(
                session,
                north.id,
                {"key": "2026-10", "title": "October", "opens_on": date(2026, 10, 1)}
                | {"closes_on": date(2026, 10, 31)},
                now,
            )
            pulse_id, north_id, south_id = pulse.id, north.id, south.id

        def add_cell(system_id: int) -> None:
            with Session(engine) as session, session.begin():
                session.add(
                    ScoreCell(
                        public_id=str(uuid.uuid4()),
                        system_id=system_id,
                        pulse_id=pulse_id,
                        scope="team",
                        place="p1",
                        team="t1",
                        dimension="purpose",
                        suppressed=True,
                        updated_at=now,
                    )
                )

        add_cell(north_id)
        with pytest.raises(IntegrityError):
            add_cell(south_id)
    finally:
        engine.dispose()
