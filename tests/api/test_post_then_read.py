"""Posting then reading at once, over a real connection, never misses (issue 10).

A live server (uvicorn, in a thread) on the test's database, committing for real: a
client creates something and at once reads it back, 1,000 times in all — places created
then fetched, responses stored then erased, keys revoked then used. When the session
committed after the answer had been sent, the read could overtake the commit (a 404 for a
place just created, a revoked key still let in).
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.main import create_app
from app.models import Place
from app.settings import Settings
from tests.api.test_races import open_system, remove_system
from tests.builders import bearer
from tests.net import free_port

ROUNDS = 334  # of each kind: 1,002 posts, each read back at once


@contextmanager
def serving(app: FastAPI, **config: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free port (``config``: more of
    ``uvicorn.Config``); its base URL."""
    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "log_level": "warning", **config}
    live = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not live.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        live.should_exit = True
        thread.join(30)


@pytest.fixture
def server(app_settings: Settings, engine: Engine) -> Iterator[tuple[str, dict[str, str]]]:
    """A live server and an admin key of a system of its own, with a team and an open pulse."""
    system_id, key = open_system(engine, "read")
    try:
        # Each round uses a revoked key on purpose: 334 failed authentications from one address.
        settings = app_settings.model_copy(update={"auth_failure_limit": ""})
        with serving(create_app(settings, engine=engine)) as base:
            yield base, bearer(key)
    finally:
        remove_system(engine, system_id)


def test_what_is_posted_is_there_when_read_at_once(
    server: tuple[str, dict[str, str]], engine: Engine
) -> None:
    base, admin = server
    misses: list[str] = []
    with httpx.Client(base_url=base, headers=admin, timeout=30) as client:
        for i in range(ROUNDS):
            made = client.post("/v1/places", json={"code": f"place-{i}", "name": "P"})
            assert made.status_code == 201, made.text
            if client.get(f"/v1/places/place-{i}").status_code != 200:
                misses.append(f"place-{i} not found")

            stored = client.post(
                "/v1/responses", json={"pulse": "p1", "team": "t1", "scores": {"purpose": 4}}
            )
            assert stored.status_code == 201, stored.text
            erased = client.delete(f"/v1/responses/{stored.json()['id']}")
            if erased.status_code != 204:
                misses.append(f"response {stored.json()['id']}: {erased.status_code}")

            created = client.post("/v1/keys", json={"name": f"k{i}", "scopes": ["insights:read"]})
            assert created.status_code == 201, created.text
            revoked = client.post(f"/v1/keys/{created.json()['id']}/revoke")
            assert revoked.status_code == 200, revoked.text
            use = client.get(
                "/v1/rules", headers={"Authorization": f"Bearer {created.json()['key']}"}
            )
            if use.status_code != 401:
                misses.append(f"revoked key {created.json()['id']} answered {use.status_code}")

    assert misses == []
    with Session(engine) as session:
        places = session.scalars(select(Place.code).where(Place.code.like("place-%"))).all()
    assert len(places) >= ROUNDS
