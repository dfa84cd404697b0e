"""Bad bodies cost little and are never a 500 (issue 10).

An answer lists at most 100 errors and counts them all; JSON nests at most 64 levels; a
lone surrogate is not JSON; a large body is parsed and validated away from the event loop,
which keeps answering ``/healthz`` meanwhile. Some of these showed only on a live server
(the recursion limit depends on the depth of the server's stack), so they are tried there.
"""

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.api.bodies import MAX_DEPTH, BodyRoute
from app.errors import MAX_ERRORS, validation_errors
from app.main import create_app
from app.models import Response
from app.schemas.responses import ResponseCreate
from app.settings import Settings
from tests.api.conftest import Tenant
from tests.api.test_post_then_read import serving
from tests.api.test_races import open_system, remove_system
from tests.api.test_responses import answer, seed
from tests.builders import assert_problem, bearer

JSON = {"content-type": "application/json"}
DEEP = b"[" * 948 + b"]" * 948  # 2 KB
LONE_SURROGATE = b'{"\\ud800": 1, "responses": [{"pulse": "p1", "team": "t1"}]}'
BODY_ROUTES = [
    ("POST", "/v1/responses/batch"),
    ("POST", "/v1/responses"),
    ("POST", "/v1/places"),
    ("PATCH", "/v1/teams/t1"),
    ("POST", "/v1/keys"),
    ("PUT", "/v1/rules"),
    ("PATCH", "/v1/system"),
]


def nested(depth: int) -> dict[str, Any]:
    """A body whose arrays and objects nest ``depth`` levels deep."""
    inner: Any = 1
    for _ in range(depth - 1):
        inner = [inner]
    return {"name": inner}


def unknown_fields(count: int) -> dict[str, Any]:
    """A response to the open pulse of ``open_system`` with ``count`` unknown fields."""
    body: dict[str, Any] = {"pulse": "p1", "team": "t1", "scores": {"purpose": 3}}
    body.update({f"field{i:06d}": 1 for i in range(count)})
    return body


@pytest.fixture
def live(app_settings: Settings, engine: Engine) -> Iterator[tuple[str, dict[str, str]]]:
    """A live server and an admin key of a system of its own (team t1, open pulse p1)."""
    system_id, key = open_system(engine, "bodies")
    try:
        with serving(create_app(app_settings, engine=engine)) as base:
            yield base, {**bearer(key), **JSON}
    finally:
        remove_system(engine, system_id)


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_nested_948_deep_is_a_400_on_a_live_server(
    live: tuple[str, dict[str, str]], method: str, path: str
) -> None:
    base, headers = live
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        problem = assert_problem(client.request(method, path, content=DEEP), 400)
    assert problem["detail"] == f"The request body is nested deeper than {MAX_DEPTH} levels."


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_lone_surrogate_is_not_json_on_a_live_server(
    live: tuple[str, dict[str, str]], method: str, path: str
) -> None:
    base, headers = live
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        problem = assert_problem(client.request(method, path, content=LONE_SURROGATE), 400)
        # The connection is still good: the answer was sent whole.
        assert client.get("/healthz").status_code == 200
    assert problem["detail"].startswith("The request body is not valid JSON: ")


def test_json_nests_up_to_the_limit_and_no_further(client: TestClient, tenant: Tenant) -> None:
    at_limit = client.post("/v1/places", json=nested(MAX_DEPTH), headers=tenant.admin)
    assert_problem(at_limit, 422)  # read, then refused as a field of the wrong type
    too_deep = client.post("/v1/places", json=nested(MAX_DEPTH + 1), headers=tenant.admin)
    assert_problem(too_deep, 400)


def place_with_unknown_fields(count: int) -> dict[str, Any]:
    """A place without its name and with ``count`` unknown fields."""
    return {"code": "north", **{f"field{i:06d}": 1 for i in range(count)}}


def test_an_answer_lists_the_first_100_errors_and_counts_them_all(
    client: TestClient, tenant: Tenant
) -> None:
    posted = client.post("/v1/places", json=place_with_unknown_fields(1000), headers=tenant.admin)
    problem = assert_problem(posted, 422)
    assert problem["error_count"] == 1 + 1000  # the missing name, and every unknown field
    assert len(problem["errors"]) == MAX_ERRORS
    assert problem["errors"][0] == {"pointer": "/name", "detail": "Field required"}


def test_a_bad_body_without_a_key_is_a_401_not_a_422(client: TestClient) -> None:
    assert_problem(client.post("/v1/places", json=place_with_unknown_fields(3)), 401)
    assert_problem(client.post("/v1/responses/batch", json={"responses": [{}]}), 401)


def test_a_batch_of_bad_items_lists_the_first_100_errors_in_item_order(
    client: TestClient, tenant: Tenant, db: Session
) -> None:
    seed(client, tenant)
    # Each item has one bad field; every third names a team that does not exist instead.
    items = [
        answer(team="nowhere") if i % 3 == 0 else answer(role="astronaut") for i in range(5000)
    ]
    posted = client.post("/v1/responses/batch", json={"responses": items}, headers=tenant.admin)
    problem = assert_problem(posted, 422)
    assert problem["error_count"] == 5000
    pointers = [error["pointer"] for error in problem["errors"]]
    assert pointers[:3] == ["/responses/0/team", "/responses/1/role", "/responses/2/role"]
    assert pointers[-1] == f"/responses/{MAX_ERRORS - 1}/team"  # 99 is a third
    assert db.scalar(select(func.count()).select_from(Response)) == 0


def test_the_first_errors_read_back_are_those_pydantic_lists_first() -> None:
    with pytest.raises(ValidationError) as caught:
        ResponseCreate.model_validate(unknown_fields(300))
    every = validation_errors(caught.value, limit=1000)
    assert len(every) == 300
    assert validation_errors(caught.value, limit=7) == every[:7]


def test_a_large_body_checked_in_a_worker_thread_answers_as_a_small_one(
    client: TestClient, tenant: Tenant, app_settings: Settings
) -> None:
    small = client.post("/v1/places", json=place_with_unknown_fields(150), headers=tenant.admin)
    client.app.state.settings = app_settings.model_copy(update={"body_check_bytes": 0})  # type: ignore[attr-defined]
    large = client.post("/v1/places", json=place_with_unknown_fields(150), headers=tenant.admin)
    assert assert_problem(large, 422) == assert_problem(small, 422)
    assert large.json()["error_count"] == 151


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every API route, within included routers too (FastAPI keeps those as they are)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def test_every_route_with_a_body_model_reads_it_itself() -> None:
    routes = [route for route in api_routes(create_app().routes) if route.body_field]
    assert len(routes) >= 10
    assert [route.path for route in routes if not isinstance(route, BodyRoute)] == []


def test_healthz_answers_within_100_ms_while_an_8_mb_body_of_errors_is_validated(
    app_settings: Settings, engine: Engine
) -> None:
    settings = app_settings.model_copy(
        update={"max_body_bytes": 9_000_000, "body_check_workers": 1}
    )
    body = json.dumps(unknown_fields(450_000)).encode()
    assert 8_000_000 < len(body) < 9_000_000
    system_id, key = open_system(engine, "healthz")
    app = create_app(settings, engine=engine)
    answers: list[httpx.Response] = []
    try:
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            app.state.body_checker.submit(int).result(timeout=60)  # started, and ready
            # The first large upload a process receives stalls it once (measured: 0.2-0.4 s
            # with the body not even JSON, before any checking); it is not what is tried here.
            warm = client.post(
                "/v1/responses", content=b"[" + body, headers={**bearer(key), **JSON}
            )
            assert_problem(warm, 400)
            post = threading.Thread(
                target=lambda: answers.append(
                    client.post("/v1/responses", content=body, headers={**bearer(key), **JSON})
                )
            )
            post.start()
            waits = []
            while post.is_alive():
                started = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                waits.append(time.perf_counter() - started)
                time.sleep(0.02)
            post.join()
    finally:
        remove_system(engine, system_id)
    problem = assert_problem(answers[0], 422)
    assert (problem["error_count"], len(problem["errors"])) == (450_000, MAX_ERRORS)
    assert len(answers[0].content) < 20_000
    assert len(waits) >= 5, "the body was validated before /healthz could be asked"
    assert max(waits) < 0.1, sorted(waits)[-5:]
