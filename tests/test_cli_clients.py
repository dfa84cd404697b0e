"""`pulse keys create --client`: a key made on the command line names its portal."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.settings import Settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"PULSE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    assert (
        runner.invoke(cli, ["systems", "create", "north-ics", "--name", "N"], env=env).exit_code
        == 0
    )
    return env


def create_key(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["keys", "create", "--system", "north-ics", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_a_key_created_with_a_client_shows_it(env: dict[str, str]) -> None:
    code, portal, err = create_key(env, "--scope", "responses:write", "--client", "portal-a")
    assert code == 0 and "client 'portal-a'" in err
    _code, admin, _err = create_key(env, "--scope", "admin")
    with TestClient(create_app(Settings(database_url=env["PULSE_DATABASE_URL"]))) as client:
        keys = client.get("/v1/keys", headers={"Authorization": f"Bearer {admin.strip()}"})
    assert keys.status_code == 200
    assert {(k["prefix"], k["client"]) for k in keys.json()["data"]} == {
        (portal.strip()[:12], "portal-a"),
        (admin.strip()[:12], None),
    }


@pytest.mark.parametrize("client", ["Portal A", "-a", "x" * 65])
def test_a_client_that_is_not_a_code_is_refused(env: dict[str, str], client: str) -> None:
    code, out, err = create_key(env, "--scope", "responses:write", "--client", client)
    assert (code, out) == (1, "")
    assert "client" in err
