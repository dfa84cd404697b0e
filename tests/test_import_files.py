"""`pulse import` on bad files of each kind: what it says, and that it stores nothing."""

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import cli
from app.db import make_engine
from app.services.imports import ImportReport, import_responses
from tests.test_import import HEADER, NOW, stored, structure

SHORT = "pulse,team,support,submitted_at,role\n"
# What pydantic says; none of it may reach the person importing.
PARSER_WORDS = ("Input should", "String should", "Value error", "valid number", "pattern")


def run(db: Session, text: str | bytes) -> ImportReport:
    system = structure(db)
    data = text if isinstance(text, bytes) else text.encode()
    return import_responses(db, system.id, io.BytesIO(data), NOW)


def said(report: ImportReport) -> list[str]:
    return [str(e) for e in report.errors]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '2026-10,t1,"4,5",,\n',
            "line 2, support: 4,5 is not a number on the 1–5 scale (use a dot for decimals)",  # noqa: RUF001
        ),
        (
            "2026-10,t1,4,15/10/2026,\n",
            "line 2, submitted_at: 15/10/2026 is not an ISO date-time like 2026-10-15T09:00:00Z",
        ),
        ("2026-10,t1,6,,\n", "line 2, support: 6 is outside the 1–5 scale"),  # noqa: RUF001
        ("2026-10,t1,0,,\n", "line 2, support: 0 is outside the 1–5 scale (leave the cell"),  # noqa: RUF001
        (
            "2026-10,t1,3.333,,\n",
            "line 2, support: 3.333 has more than two decimal places (scores go in steps of 0.01)",
        ),
        ("2026-10,t1,four,,\n", "line 2, support: four is not a number on the 1–5 scale"),  # noqa: RUF001
        ("2026-10,t1,,,\n", "line 2: every score is blank"),
        ("2026-10,t1,4,2026-10-15,\n", "2026-10-15 is a date without a time"),
        ("2026-10,t1,4,2026-10-15T09:00:00,\n", "2026-10-15T09:00:00 has no UTC offset"),
        ("2026-10,t1,4,2027-01-01T09:00:00Z,\n", "2027-01-01T09:00:00Z is in the future"),
        ("2026-10,t9,4,,\n", "line 2, team: t9 is not the code of a team in this system"),
        ("2026-09,t1,4,,\n", "line 2, pulse: 2026-09 is not the key of a pulse in this system"),
        ("2026-10,T1,4,,\n", "T1 is not a team code (lower-case letters"),
        ("2026-10,T1,4,,\n", "codes are lower case: t1?"),
        ("2026-10,,4,,\n", "line 2, team: the team code is missing"),
        ("2026-10,t1,4,,Team lead\n", "Team lead is not a role: use one of frontline"),
        ("2026-10,t1,4,,Team lead\n", "team_lead?"),
        ("2026-10,t1,4,,,extra\n", "line 2: has 6 cells where the header has 5 columns"),
    ],
)
def test_each_bad_cell_is_said_in_the_files_terms(db: Session, line: str, message: str) -> None:
    report = run(db, SHORT + line)
    assert any(message in text for text in said(report)), said(report)
    assert not any(word in text for text in said(report) for word in PARSER_WORDS)
    assert stored(db) == 0


def test_no_message_of_a_bad_file_uses_the_parsers_words(db: Session) -> None:
    lines = [
        "2026-10,t1,6,,\n",
        "2026-10,t1,3.333,,\n",
        "2026-10,T 1,4,,\n",
        "2026-10,t1,4,31/12/2026 09:00,boss\n",
        ",t1,4,,\n",
        "2026-10,t1,4,2026-13-45T09:00:00Z,\n",
        "2026-10,t1,4,0001-01-01T00:00:00+01:00,\n",
        "2026-10," + "t" * 70 + ",4,,\n",
    ]
    report = run(db, SHORT + "".join(lines))
    assert report.bad_lines == len(lines)
    assert not [text for text in said(report) if any(w in text for w in PARSER_WORDS)]


def test_headers_match_whatever_their_case_spaces_and_underscores(db: Session) -> None:
    header = " Pulse ,TEAM,Support,New ways of working,Partner-Relationships,Submitted At\n"
    report = run(db, header + "2026-10,t1,4,3,2.5,2026-10-03T10:00:00Z\n")
    assert (report.error_count, report.created) == (0, 1)
    assert stored(db) == 1


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_semicolon_or_tab_separated_file_is_read(db: Session, separator: str) -> None:
    line = "2026-10,t1,4,3.5,,2,5,frontline,nursing,trust,,x1\n"
    text = (HEADER + line).replace(",", separator)
    report = run(db, text)
    assert (report.error_count, report.created) == (0, 1)


def test_decimal_commas_in_a_semicolon_file_are_named(db: Session) -> None:
    report = run(db, "pulse;team;support;belief\n2026-10;t1;4,5;3\n2026-10;t1;2,25;3\n")
    assert said(report) == [
        "line 2, support: 4,5 is not a number on the 1–5 scale (use a dot for decimals)",  # noqa: RUF001
        "line 3, support: 2,25 is not a number on the 1–5 scale (use a dot for decimals)",  # noqa: RUF001
    ]
    assert stored(db) == 0


@pytest.mark.parametrize(
    ("header", "messages"),
    [
        (
            "team,support\n",
            ["header: the column pulse is missing: every file needs pulse and team"],
        ),
        (
            "pulse,support\n",
            ["header: the column team is missing: every file needs pulse and team"],
        ),
        ("pulse;team\n", ["header: no score column: the file needs at least one of purpose"]),
        ("pulse|team|support\n", ["the file seems to have one column"]),
        ("pulse,team,support,\n", ["header: column 4 has no name (a stray ,?)"]),
    ],
)
def test_a_header_missing_columns_is_refused_in_words(
    db: Session, header: str, messages: list[str]
) -> None:
    report = run(db, header + "2026-10,t1,3\n")
    assert len(report.errors) == len(messages)
    for error, message in zip(report.errors, messages, strict=True):
        assert message in str(error)
    assert stored(db) == 0


def test_a_repeated_external_id_with_other_answers_is_named(db: Session) -> None:
    lines = ["2026-10,t1,4,,,x1\n", "2026-10,t1,4,,,x1\n", "2026-10,t1,5,,,x1\n"]
    report = run(db, SHORT.replace("\n", ",external_id\n") + "".join(lines))
    assert said(report) == [
        "line 4, external_id: x1 is the external_id of an earlier line too, with other answers"
    ]
    assert stored(db) == 0


def test_blank_lines_are_not_rows(db: Session) -> None:
    report = run(db, SHORT + "2026-10,t1,4,,\n\n,,,,\n")
    assert (report.rows, report.created, report.error_count) == (1, 1, 0)


def test_a_file_that_is_not_utf8_is_named(db: Session) -> None:
    report = run(db, (SHORT + "2026-10,t1,4,,\n").encode() + "Équipe\n".encode("cp1252"))
    assert said(report) == [
        "the file is not UTF-8 text: in Excel, save it as 'CSV UTF-8 (Comma delimited)'"
    ]
    assert stored(db) == 0


def _migrated(url: str) -> dict[str, str]:
    env = {"PULSE_DATABASE_URL": url}
    assert CliRunner().invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        structure(session)
    engine.dispose()
    return env


def test_errors_file_lists_every_bad_line_and_the_screen_a_summary(
    scratch_url: str, tmp_path: Path
) -> None:
    env = _migrated(scratch_url)
    good = [f"2026-10,t1,3,,,id-{i}\n" for i in range(30)]
    bad = [f'2026-10,t1,"{i % 4 + 1},5",,,bad-{i}\n' for i in range(70)]
    source = tmp_path / "history.csv"
    source.write_text(SHORT.replace("\n", ",external_id\n") + "".join(good + bad))
    listing = tmp_path / "problems.csv"
    result = CliRunner().invoke(
        cli, ["import", str(source), "--system", "import-ics", "--errors", str(listing)], env=env
    )
    assert result.exit_code == 1
    with listing.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "column", "value", "problem"]
    assert [int(r[0]) for r in rows[1:]] == list(range(32, 102))
    assert rows[1] == [
        "32",
        "support",
        "1,5",
        "1,5 is not a number on the 1–5 scale (use a dot for decimals)",  # noqa: RUF001
    ]
    lines = result.stderr.splitlines()
    assert sum(line.startswith("history.csv: line ") for line in lines) == 20
    assert "... and 50 more." in lines
    assert f"Every problem is listed in {listing}." in lines
    assert "error: 70 problem(s) on 70 line(s); nothing was imported." in lines
    engine = make_engine(scratch_url)
    with Session(engine) as session:
        assert stored(session) == 0
    engine.dispose()


def test_a_clean_file_leaves_an_errors_file_with_only_its_header(
    scratch_url: str, tmp_path: Path
) -> None:
    env = _migrated(scratch_url)
    source = tmp_path / "good.csv"
    source.write_text(SHORT + "2026-10,t1,3,,\n")
    listing = tmp_path / "problems.csv"
    listing.write_text("left from an earlier run\n")
    result = CliRunner().invoke(
        cli, ["import", str(source), "--system", "import-ics", "--errors", str(listing)], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert listing.read_bytes() == b"line,column,value,problem\r\n"
    assert "Imported 1 rows: 1 responses stored, 0 already stored." in result.stderr


def test_output_is_not_wrapped_when_not_on_a_terminal(tmp_path: Path) -> None:
    env = _migrated(f"sqlite:///{tmp_path / 'import.db'}")
    source = tmp_path / "a-file-with-a-rather-long-name-as-exports-have.csv"
    source.write_text(SHORT + "2026-10,t1,4,15/10/2026,\n")
    result = CliRunner().invoke(cli, ["import", str(source), "--system", "import-ics"], env=env)
    assert result.exit_code == 1
    expected = (
        f"{source.name}: line 2, submitted_at: 15/10/2026 is not an ISO date-time "
        "like 2026-10-15T09:00:00Z"
    )
    assert len(expected) > 80 and expected in result.stderr.splitlines()
