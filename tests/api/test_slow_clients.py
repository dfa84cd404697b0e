"""A client that trickles its headers or body cannot hold a place in the service for ever."""

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine

from app.main import create_app
from app.serving import HeaderDeadlineProtocol
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


@contextmanager
def serving_with_header_deadline(
    monkeypatch: pytest.MonkeyPatch, seconds: float, settings: Settings
) -> Iterator[tuple[str, int]]:
    """The app served with the HTTP protocol `pulse serve` runs, in a thread; its address."""
    monkeypatch.setattr(HeaderDeadlineProtocol, "seconds", seconds)
    with serving(create_app(settings), http=HeaderDeadlineProtocol) as base:
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


def read_until_closed(client: socket.socket) -> bytes:
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    return data


def test_headers_trickled_a_byte_at_a_time_are_answered_408_and_the_connection_closed(
    monkeypatch: pytest.MonkeyPatch, app_settings: Settings
) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"
    with (
        serving_with_header_deadline(monkeypatch, 0.5, app_settings) as address,
        socket.create_connection(address, timeout=10) as client,
    ):
        began = time.monotonic()
        sent = 0
        try:
            for byte in head:  # one byte every 0.1 s: the whole head would take 5 s
                client.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.1)
        except OSError:
            pass  # the server closed the connection while bytes were still coming
        answer = read_until_closed(client)
        waited = time.monotonic() - began

    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"application/problem+json" in answer
    assert b"/problems/request-timeout" in answer
    assert sent < len(head)  # cut off before the head was whole
    assert waited < 5


def test_a_connection_that_sends_nothing_is_closed_after_the_header_deadline(
    monkeypatch: pytest.MonkeyPatch, app_settings: Settings
) -> None:
    with (
        serving_with_header_deadline(monkeypatch, 0.5, app_settings) as address,
        socket.create_connection(address, timeout=10) as client,
    ):
        answer = read_until_closed(client)
    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_request_whose_headers_arrive_in_time_is_served_and_kept_alive(
    monkeypatch: pytest.MonkeyPatch, app_settings: Settings
) -> None:
    with (
        serving_with_header_deadline(monkeypatch, 0.5, app_settings) as address,
        socket.create_connection(address, timeout=10) as client,
    ):
        answers = []
        for _ in range(3):  # the same connection, the second and third after the deadline
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answers.append(read_answer(client))
            time.sleep(0.7)
    assert all(a.startswith("HTTP/1.1 200 ") for a in answers), answers
