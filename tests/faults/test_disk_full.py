"""A PostgreSQL database whose disk fills: its own 503, /readyz says so, and it recovers.

The database lives in a tablespace on a small filesystem of its own (a tmpfs mounted here),
so its tables run out of room while the cluster's WAL, on a disk with room, keeps the
server up: PostgreSQL answers "could not extend file" (SQLSTATE 53100, disk_full), as on
a real full disk. Growing the filesystem then frees room, and writes are taken again
without restarting the API. SQLite's full database is tested in tests/api.
"""

import os
import pwd
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import NullPool, create_engine, text

from tests.api.test_races import open_system
from tests.builders import bearer
from tests.faults.cluster import PrivateCluster
from tests.faults.conftest import migrate
from tests.faults.server import ApiProcess

SMALL = "12m"  # room for the schema and a few batches, then full
LARGER = "256m"


def _mount(directory: Path, size: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join([*options, f"size={size}"]), "tmpfs", directory],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def small_disk(cluster: PrivateCluster) -> Iterator[tuple[Path, str]]:
    """A tmpfs of ``SMALL`` bytes holding a tablespace, and a migrated database in it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem for the tablespace needs root")
    directory = Path(tempfile.mkdtemp(prefix="pulse-faults-small-"))
    mounted = _mount(directory, SMALL)
    if mounted.returncode != 0:
        directory.rmdir()
        pytest.skip(f"a tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        owner = pwd.getpwnam(cluster.user) if cluster.user else None
        if owner is not None:
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        with admin.connect() as conn:
            conn.execute(text(f"CREATE TABLESPACE small LOCATION '{directory}'"))
            conn.execute(text("CREATE DATABASE pulse_full TABLESPACE small"))
        url = cluster.url("pulse_full")
        migrate(url)
        yield directory, url
    finally:
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS pulse_full WITH (FORCE)"))
            conn.execute(text("DROP TABLESPACE IF EXISTS small"))
        admin.dispose()
        subprocess.run(["umount", "-l", directory], capture_output=True, timeout=30)
        directory.rmdir()


def _batch(size: int, tag: str) -> dict[str, Any]:
    items = [
        {"pulse": "p1", "team": "t1", "external_id": f"{tag}-{i}", "scores": {"purpose": 4}}
        for i in range(size)
    ]
    return {"responses": items}


def _stored(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM response")).scalar_one())
    finally:
        engine.dispose()


def test_a_full_disk_answers_its_own_503_readyz_says_so_and_room_brings_writes_back(
    small_disk: tuple[Path, str],
) -> None:
    directory, url = small_disk
    engine = create_engine(url, poolclass=NullPool)
    _system_id, key = open_system(engine, "full")
    engine.dispose()
    api = ApiProcess(url).start()
    try:
        with httpx.Client(base_url=api.base, headers=bearer(key), timeout=60) as client:
            taken, refused = 0, None
            for number in range(60):  # 60 batches of 5,000 would need far more than SMALL
                answer = client.post("/v1/responses/batch", json=_batch(5000, f"b{number}"))
                if answer.status_code != 201:
                    refused = answer
                    break
                taken += 5000
            assert refused is not None, "the small filesystem never filled"
            ready = client.get("/readyz")
            held = _stored(url)

            grown = _mount(directory, LARGER, "remount")
            assert grown.returncode == 0, grown.stderr
            after = client.post("/v1/responses/batch", json=_batch(100, "after"))
            ready_after = client.get("/readyz")
    finally:
        api.stop()

    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/database-full"
    assert int(refused.headers["retry-after"]) > 0
    assert ready.status_code == 503
    assert ready.json()["type"] == "/problems/database-full"
    # The refused batch stored nothing: only the batches acknowledged are there.
    assert held == taken
    assert after.status_code == 201, after.text
    assert ready_after.status_code == 200, ready_after.text
    assert _stored(url) == taken + 100
