"""A client that trickles its body cannot hold a place in the service for ever."""

import json
import socket
import time

from sqlalchemy import Engine

from app.main import create_app
from app.settings import Settings
from tests.api.test_post_then_read import serving
from tests.api.test_races import open_system, remove_system


def read_answer(client: socket.socket) -> str:
    """One whole HTTP answer: its head, then as many bytes as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += client.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += client.recv(65536)
    return (head + b"\r\n\r\n" + body).decode()


def test_a_body_that_stops_arriving_is_answered_408(app_settings: Settings, engine: Engine) -> None:
    system_id, key = open_system(engine, "slow")
    settings = app_settings.model_copy(update={"body_read_timeout": 0.5})
    try:
        with serving(create_app(settings, engine=engine)) as base:
            host, port = base.removeprefix("http://").split(":")
            body = json.dumps({"code": "east", "name": "East"}).encode()
            head = (
                f"POST /v1/places HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            with socket.create_connection((host, int(port)), timeout=10) as client:
                client.sendall(head.encode() + body[:5])  # and then nothing more
                began = time.monotonic()
                answer = read_answer(client)
                waited = time.monotonic() - began
    finally:
        remove_system(engine, system_id)

    status_line, _, rest = answer.partition("\r\n")
    assert status_line.split()[1] == "408", answer
    assert "application/problem+json" in rest
    assert "/problems/request-timeout" in rest
    assert waited < 5
