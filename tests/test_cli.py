"""The `pulse` command line."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import cli
from app.db import make_engine
from app.main import create_app
from app.settings import Settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PULSE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_a_new_database_gets_a_system_and_a_working_key(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade")[0] == 0
    assert run(env, "systems", "create", "north-ics", "--name", "North ICS")[0] == 0
    code, out, err = run(
        env, "keys", "create", "--system", "north-ics", "--scope", "admin", "--scope", "feeds:read"
    )
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pulse_")
    assert "shown once" in err
    settings = Settings(database_url=env["PULSE_DATABASE_URL"])
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/system", headers={"Authorization": f"Bearer {lines[0]}"})
    assert response.status_code == 200
    assert response.json()["name"] == "North ICS"


def test_a_key_may_expire_on_a_date(env: dict[str, str]) -> None:
    run(env, "db", "upgrade")
    run(env, "systems", "create", "north-ics", "--name", "North ICS")
    code, out, _ = run(
        env,
        "keys",
        "create",
        "--system",
        "north-ics",
        "--scope",
        "admin",
        "--expires",
        "2020-01-01",
    )
    assert code == 1 and out == ""
    code, out, _ = run(
        env,
        "keys",
        "create",
        "--system",
        "north-ics",
        "--scope",
        "admin",
        "--expires",
        "2099-01-01",
    )
    assert code == 0 and out.startswith("pulse_")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["systems", "create", "Bad Slug", "--name", "X"], "slug"),
        (["systems", "create", "north-ics", "--name", "Again"], "already exists"),
        (["keys", "create", "--system", "nowhere", "--scope", "admin"], "No system"),
        (["keys", "create", "--system", "north-ics", "--scope", "root"], "root"),
        (
            ["keys", "create", "--system", "north-ics", "--scope", "admin", "--expires", "soon"],
            "date",
        ),
    ],
)
def test_bad_commands_fail_with_a_message(
    env: dict[str, str], args: list[str], message: str
) -> None:
    run(env, "db", "upgrade")
    run(env, "systems", "create", "north-ics", "--name", "North ICS")
    code, out, err = run(env, *args)
    assert code != 0
    assert out == ""
    assert message in err


def test_openapi_command_writes_the_contract(tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "openapi.json"
    assert run(env, "openapi", "--output", str(target))[0] == 0
    assert json.loads(target.read_text()) == create_app().openapi()


def test_publish_computes_the_results_that_are_due_and_then_nothing(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade")[0] == 0
    assert run(env, "demo", "--no-publish")[0] == 0

    code, _, err = run(env, "publish")

    assert code == 0
    computed = [line for line in err.splitlines() if ": computed in " in line]
    assert len(computed) == 6 and all(line.startswith("demo/") for line in computed)
    assert "recent closed pulses are current" in err
    code, _, err = run(env, "publish")
    assert code == 0 and ": computed in " not in err


def test_the_demo_computes_its_results_so_that_nothing_is_due(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade")[0] == 0
    assert run(env, "demo")[0] == 0

    code, _, err = run(env, "publish")

    assert code == 0 and ": computed in " not in err


def test_publish_fails_clearly_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    env = {"PULSE_DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'cli.db'}"}

    code, _, err = run(env, "publish")

    assert code == 1 and "cannot be reached" in err


def test_the_demo_leaves_postgresql_statistics_behind(scratch_url: str) -> None:
    # A freshly loaded table taken for nearly empty made a feed page 80 ms instead of 1 ms.
    env = {"PULSE_DATABASE_URL": scratch_url}
    assert run(env, "db", "upgrade")[0] == 0
    assert run(env, "demo", "--no-publish")[0] == 0

    engine = make_engine(scratch_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                tables = connection.execute(text("SELECT name FROM sqlite_master")).scalars()
                assert "sqlite_stat1" not in set(tables)  # SQLite plans as it always has
                return
            for table in ("place", "team", "response"):
                rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                estimate = connection.execute(
                    text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
                ).scalar_one()
                assert rows > 0 and estimate == rows, (table, rows, estimate)
    finally:
        engine.dispose()
