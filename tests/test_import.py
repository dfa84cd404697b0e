"""`pulse import`: CSV in, checked line by line, all or nothing, never twice."""

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import cli
from app.models import Organisation, Place, Pulse, Response, System, Team
from app.services import imports
from app.services.imports import csvfile, import_responses
from tests.builders import make_system

HEADER = (
    "pulse,team,purpose,belief,support,new_ways_of_working,partner_relationships,"
    "role,profession,organisation,submitted_at,external_id\n"
)
GOOD = [
    "2026-10,t1,4,3.5,,2,5,frontline,nursing,trust,2026-10-03T10:00:00Z,x1\n",
    "2026-10,t1,3,3,3,3,3,,,,,\n",
    "2026-10,t1,3,3,3,3,3,,,,,\n",
    "2026-10,t1,1.25,,,,,manager,,,,\n",
]
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def structure(db: Session) -> System:
    """A system with a team and a pulse that closed last month."""
    system = make_system(db, "import-ics")
    place = Place(system_id=system.id, code="north", name="North", created_at=NOW, updated_at=NOW)
    org = Organisation(
        system_id=system.id,
        code="trust",
        name="T",
        kind="nhs_trust",
        created_at=NOW,
        updated_at=NOW,
    )
    db.add_all([place, org])
    db.flush()
    db.add(
        Team(
            system_id=system.id,
            code="t1",
            name="T1",
            place_id=place.id,
            host_organisation_id=org.id,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    db.add(
        Pulse(
            system_id=system.id,
            key="2026-10",
            title="Oct",
            opens_on=datetime(2026, 10, 1).date(),
            closes_on=datetime(2026, 10, 31).date(),
            created_at=NOW,
            updated_at=NOW,
        )
    )
    db.flush()
    return system


def stored(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Response)) or 0


def run(db: Session, system: System, text: str):  # type: ignore[no-untyped-def]
    return import_responses(db, system.id, io.BytesIO(text.encode()), NOW)


def test_a_good_file_is_imported_into_a_closed_pulse(db: Session) -> None:
    system = structure(db)
    report = run(db, system, HEADER + "".join(GOOD))
    assert (report.rows, report.created, report.already_stored, report.error_count) == (4, 4, 0, 0)
    assert stored(db) == 4
    skipped = db.scalar(select(Response).where(Response.purpose == 125))
    assert skipped is not None and skipped.belief is None and skipped.role == "manager"


def test_the_same_file_twice_adds_nothing(db: Session) -> None:
    system = structure(db)
    run(db, system, HEADER + "".join(GOOD))
    again = run(db, system, HEADER + "".join(GOOD))
    assert (again.created, again.already_stored) == (0, 4)
    assert stored(db) == 4


def test_every_bad_line_is_named_and_nothing_is_imported(db: Session) -> None:
    system = structure(db)
    bad = [
        *GOOD,
        "2026-10,t9,3,3,3,3,3,,,,,\n",
        "2026-10,t1,6,3,3,3,abc,boss,,,,\n",
        "2026-09,t1,3,,,,,,,,,\n",
        "2026-10,t1,,,,,,,,,,\n",
        "2026-10,t1,3,3,3,3,3,,,,,,extra\n",
    ]
    report = run(db, system, HEADER + "".join(bad))
    found = {(e.line, e.column) for e in report.errors}
    assert found == {
        (6, "team"),
        (7, "purpose"),
        (7, "partner_relationships"),
        (7, "role"),
        (8, "pulse"),
        (9, ""),
        (10, ""),
    }
    assert report.error_count == len(found)
    assert report.created == 0


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("pulse,team,support,email\n", "email is not a column of the import"),
        ("team,support\n", "the column pulse is missing"),
        ("pulse,team,role\n", "no score column"),
        ("pulse,team,support,Support\n", "Support repeats the column support"),
    ],
)
def test_a_bad_header_is_refused(db: Session, header: str, message: str) -> None:
    system = structure(db)
    report = run(db, system, header + "2026-10,t1,3\n")
    assert report.error_count == 1 and message in str(report.errors[0])
    assert report.errors[0].line == 1 and stored(db) == 0


def test_a_line_clashing_with_a_stored_external_id_is_named(db: Session) -> None:
    system = structure(db)
    run(db, system, HEADER + GOOD[0])
    report = run(db, system, HEADER + GOOD[1] + GOOD[0].replace(",4,3.5,", ",1,3.5,"))
    assert [(e.line, e.column) for e in report.errors] == [(3, "external_id")]


def test_lines_are_checked_and_named_across_chunks(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvfile, "CHECKED", 2)
    monkeypatch.setattr(imports, "WRITTEN", 4)
    system = structure(db)
    lines = [
        *GOOD,
        "2026-10,t1,3,3,3,3,3,,,,,,extra\n",
        GOOD[0],
        GOOD[0].replace(",4,3.5,", ",1,3.5,"),
        "2026-10,t9,3,3,3,3,3,,,,,\n",
        "2026-10,t1,3,3,3,3,7,,,,,\n",
    ]
    report = run(db, system, HEADER + "".join(lines))
    assert sorted((e.line, e.column) for e in report.errors) == [
        (6, ""),
        (8, "external_id"),
        (9, "team"),
        (10, "partner_relationships"),
    ]
    assert (report.rows, report.error_count) == (9, 4)


def test_a_file_overlapping_one_imported_before_stores_only_the_new_lines(db: Session) -> None:
    system = structure(db)
    lines = [f"2026-10,t1,3,3,3,3,3,,,,,id-{i}\n" for i in range(120)]
    run(db, system, HEADER + "".join(lines[:60]))
    report = run(db, system, HEADER + "".join(lines))
    assert (report.created, report.already_stored, report.error_count) == (60, 60, 0)
    clash = lines[119].replace(",3,3,3,3,3,", ",4,3,3,3,3,")
    report = run(db, system, HEADER + "".join(lines[:119]) + clash)
    assert [(e.line, e.column) for e in report.errors] == [(121, "external_id")]
    assert stored(db) == 120


def test_the_command_imports_and_reports(tmp_path: Path) -> None:
    env = {"PULSE_DATABASE_URL": f"sqlite:///{tmp_path / 'import.db'}"}
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    from app.db import make_engine

    engine = make_engine(env["PULSE_DATABASE_URL"])
    with Session(engine) as session, session.begin():
        structure(session)
    engine.dispose()
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "".join(GOOD))
    result = runner.invoke(cli, ["import", str(good), "--system", "import-ics"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "4 responses stored" in result.stderr
    result = runner.invoke(cli, ["import", str(good), "--system", "import-ics"], env=env)
    assert result.exit_code == 0 and "0 responses stored, 4 already stored" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + GOOD[1] + "2026-10,t9,3,3,3,3,3,,,,,\n")
    result = runner.invoke(cli, ["import", str(bad), "--system", "import-ics"], env=env)
    assert result.exit_code == 1
    assert "bad.csv: line 3, team: t9 is not the code of a team in this system" in result.stderr
    assert "nothing was imported" in result.stderr
    engine = make_engine(env["PULSE_DATABASE_URL"])
    with Session(engine) as session:
        assert stored(session) == 4
    engine.dispose()


def test_a_submitted_at_past_the_calendar_in_utc_is_a_line_problem(db: Session) -> None:
    # It crashed the command with a traceback (issue 10): moving it to UTC overflows.
    system = structure(db)
    lines = [
        "2026-10,t1,3,3,3,3,3,,,,0001-01-01T00:00:00+01:00,\n",
        "2026-10,t1,3,3,3,3,3,,,,9999-12-31T23:59:59-01:00,\n",
    ]
    report = run(db, system, HEADER + "".join(lines))
    assert [(e.line, e.column) for e in report.errors] == [(2, "submitted_at"), (3, "submitted_at")]
    assert stored(db) == 0
