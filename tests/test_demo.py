"""`pulse demo`: a realistic system whose planted patterns come out as warning signs."""

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.settings import Settings
from app.vocab import OrganisationKind
from tests.conftest import BuiltDemo


def test_the_demo_shows_every_planted_pattern(built_demo: BuiltDemo) -> None:
    assert built_demo.exit_code == 0, built_demo.stderr
    key = built_demo.stdout.strip()
    assert key.startswith("pulse_") and "curl" in built_demo.stderr

    with TestClient(create_app(Settings(database_url=built_demo.url))) as client:
        headers = {"Authorization": f"Bearer {key}"}
        teams = client.get("/v1/teams", params={"limit": 1000}, headers=headers).json()["data"]
        pulses = client.get("/v1/pulses", headers=headers).json()["data"]
        orgs = client.get("/v1/organisations", headers=headers).json()["data"]
        flags = client.get("/v1/warning-signs", params={"limit": 1000}, headers=headers).json()
    assert len(teams) == 40 and len(pulses) == 6
    assert {o["kind"] for o in orgs} == {k.value for k in OrganisationKind}
    found = {(f["rule"], f["team"] or f["place"], f["severity"]) for f in flags["data"]}
    assert ("falling", "riverside-nt2", "amber") in found or (
        "falling",
        "riverside-nt2",
        "red",
    ) in found
    assert ("polarised", "hillcrest-nt1", "amber") in found
    assert ("hierarchy_gap", "old-town-nt3", "amber") in found
    assert any(rule == "partner_divide" and where == "hillcrest" for rule, where, _ in found)
    assert ("low_score", "marsh-end-nt5", "info") in found
    assert ("gone_quiet", "northgate-nt4", "amber") in found
    healthy = [t["code"] for t in teams if not any(t["code"] == where for _, where, _ in found)]
    assert len(healthy) >= 20


def test_the_demo_refuses_a_slug_that_exists(tmp_path: Path) -> None:
    env = {"PULSE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    runner = CliRunner()
    runner.invoke(cli, ["db", "upgrade"], env=env)
    runner.invoke(cli, ["systems", "create", "demo", "--name", "Taken"], env=env)
    result = runner.invoke(cli, ["demo"], env=env)
    assert result.exit_code == 1 and "already exists" in result.stderr
