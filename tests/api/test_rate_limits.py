"""Per-key rate limits and per-address limits on failed authentication (issue 10).

Each test runs with counters in memory and again in Redis (127.0.0.1:6379 unless
PULSE_TEST_REDIS_URL says otherwise), under a prefix of its own that is deleted afterwards.
"""

import os
import re
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from limits.storage import RedisStorage
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.api.deps import get_now
from app.main import create_app
from app.models import Place
from app.settings import Settings
from tests.api.conftest import Tenant
from tests.builders import assert_problem, bearer
from tests.conftest import Clock

REDIS_URL = os.environ.get("PULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMITS = {"rate_limit": "3/minute", "auth_failure_limit": "2/minute"}
# "name";q=quota;w=window and "name";r=remaining;t=seconds (draft-ietf-httpapi-ratelimit-headers)
POLICY = re.compile(r'^"[a-z0-9-]+";q=\d+;w=\d+(, "[a-z0-9-]+";q=\d+;w=\d+)*$')
REMAINING = re.compile(r'^"[a-z0-9-]+";r=\d+;t=\d+(, "[a-z0-9-]+";r=\d+;t=\d+)*$')

MakeClient = Callable[..., TestClient]


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis cannot be reached at {REDIS_URL} ({exc}); Redis storage untested")


@pytest.fixture(params=["memory", "redis"])
def make_client(
    request: pytest.FixtureRequest,
    app_settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: Clock,
) -> Iterator[MakeClient]:
    """Build API clients (each its own app, like a worker) whose counters share a prefix."""
    prefix = f"pulse-test-{uuid.uuid4().hex}"
    redis_url = None
    if request.param == "redis":
        _redis_or_skip()
        redis_url = REDIS_URL
    clients: list[TestClient] = []

    def make(address: str = "203.0.113.7", **overrides: str) -> TestClient:
        settings = app_settings.model_copy(
            update={"redis_url": redis_url, "rate_limit_prefix": prefix, **LIMITS, **overrides}
        )
        app = create_app(settings, engine=engine)
        app.dependency_overrides[get_now] = clock
        client = TestClient(app, base_url="https://testserver", client=(address, 50000))
        client.__enter__()
        app.state.sessionmaker = session_factory
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    if redis_url is not None:
        RedisStorage(redis_url, key_prefix=prefix).reset()


def _places(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Place)) or 0


def test_a_key_over_its_limit_gets_429_with_retry_after_and_stores_nothing(
    make_client: MakeClient, tenant: Tenant, db: Session
) -> None:
    client = make_client()
    for i in range(3):
        made = client.post("/v1/places", json={"code": f"p{i}", "name": "P"}, headers=tenant.admin)
        assert made.status_code == 201, made.text
        assert made.headers["ratelimit-policy"] == '"key-per-minute";q=3;w=60'
        assert made.headers["ratelimit"] == f'"key-per-minute";r={2 - i};t=60'
    before = _places(db)

    refused = client.post("/v1/places", json={"code": "p9", "name": "P"}, headers=tenant.admin)

    problem = assert_problem(refused, 429)
    assert problem["type"] == "/problems/too-many-requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == '"key-per-minute";q=3;w=60'
    assert re.fullmatch(r'"key-per-minute";r=0;t=\d+', refused.headers["ratelimit"])
    assert _places(db) == before
    assert client.get("/v1/places/p9", headers=tenant.admin).status_code == 429


def test_another_key_is_unaffected_by_a_key_over_its_limit(
    make_client: MakeClient, tenant: Tenant, other: Tenant
) -> None:
    client = make_client()
    for _ in range(3):
        assert client.get("/v1/system", headers=tenant.admin).status_code == 200
    assert_problem(client.get("/v1/system", headers=tenant.admin), 429)

    answer = client.get("/v1/system", headers=other.admin)

    assert answer.status_code == 200
    assert answer.headers["ratelimit"] == '"key-per-minute";r=2;t=60'


def test_every_answer_to_a_key_carries_the_ratelimit_fields_even_errors_and_csv(
    make_client: MakeClient, tenant: Tenant
) -> None:
    client = make_client(rate_limit="50/second;1000/minute")
    answers = [
        client.get("/v1/places/nowhere", headers=tenant.admin),
        client.get("/v1/feeds/scores?format=csv", headers=tenant.admin),
        client.post("/v1/places", json={"code": 7}, headers=tenant.admin),
    ]
    assert [a.status_code for a in answers] == [404, 200, 422]
    for answer in answers:
        assert POLICY.fullmatch(answer.headers["ratelimit-policy"])
        assert REMAINING.fullmatch(answer.headers["ratelimit"])
    assert answers[0].headers["ratelimit-policy"] == (
        '"key-per-second";q=50;w=1, "key-per-minute";q=1000;w=60'
    )


def test_bad_keys_from_one_address_get_429_after_the_limit_even_with_a_valid_key(
    make_client: MakeClient, tenant: Tenant
) -> None:
    client = make_client()
    assert_problem(client.get("/v1/system", headers=bearer("pulse_guess-1")), 401)
    assert_problem(client.get("/v1/system"), 401)

    guessed = client.get("/v1/system", headers=bearer("pulse_guess-3"))
    valid = client.get("/v1/system", headers=tenant.admin)

    for refused in (guessed, valid):
        assert assert_problem(refused, 429)["type"] == "/problems/too-many-requests"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-policy"] == '"auth-failures-per-minute";q=2;w=60'
        assert re.fullmatch(r'"auth-failures-per-minute";r=0;t=\d+', refused.headers["ratelimit"])
    assert make_client(address="198.51.100.1").get("/v1/system", headers=tenant.admin).is_success


def test_counters_are_shared_by_workers_on_redis_and_kept_apart_in_memory(
    make_client: MakeClient, request: pytest.FixtureRequest, tenant: Tenant
) -> None:
    first, second = make_client(), make_client()
    for _ in range(3):
        assert first.get("/v1/system", headers=tenant.admin).status_code == 200

    answer = second.get("/v1/system", headers=tenant.admin)

    shared = request.node.callspec.params["make_client"] == "redis"
    assert answer.status_code == (429 if shared else 200)


def test_empty_limits_turn_limiting_off(make_client: MakeClient, tenant: Tenant) -> None:
    client = make_client(rate_limit="", auth_failure_limit="")
    for _ in range(5):
        assert_problem(client.get("/v1/system", headers=bearer("pulse_guess")), 401)
    answers = [client.get("/v1/system", headers=tenant.admin) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert "ratelimit" not in answers[-1].headers


def test_when_redis_is_gone_limits_are_counted_in_the_process_and_nothing_is_a_500(
    app_settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = app_settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:1/0", "rate_limit_prefix": "gone", **LIMITS}
    )
    app = create_app(settings, engine=engine)
    with TestClient(app, base_url="https://testserver") as client:
        app.state.sessionmaker = session_factory
        answers = [client.get("/v1/system", headers=tenant.admin) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "rate-limit storage failed" in caplog.text


@pytest.mark.parametrize("limit", ["lots", "10/fortnight", "5 per"])
def test_a_malformed_limit_is_refused_at_start_up(limit: str) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        Settings(rate_limit=limit)


def test_every_route_that_takes_a_key_declares_429_with_its_fields() -> None:
    schema = create_app(Settings()).openapi()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if "401" not in responses:
                continue
            headers = responses["429"]["headers"]
            assert {"Retry-After", "RateLimit-Policy", "RateLimit"} <= headers.keys(), path
            ok = [r for s, r in responses.items() if s.startswith("2")]
            assert all("RateLimit" in r["headers"] for r in ok), (method, path)
