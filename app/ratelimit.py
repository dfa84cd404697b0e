"""Per-key rate limits and per-address limits on failed authentication, with ``limits``.

Counters live in this process's memory, or in Redis when ``redis_url`` is set, so that
every worker and replica shares them. The strategy is a moving window: exact (no double
burst at a window's edge), at the cost of one timestamp per counted request kept for the
window's length. Counters are keyed by key id or client address, never by a secret.

If Redis fails, each process counts in its own memory for ``OUTAGE_SECONDS`` (logged as a
warning) and then tries Redis again: the service never answers 500 for it, and guessing
keys stays limited per process meanwhile.
"""

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import TooManyRequests
from app.settings import Settings

log = logging.getLogger(__name__)

OUTAGE_SECONDS = 5.0
# A stalled Redis must not hold a worker thread: short timeouts and no retries.
REDIS_OPTIONS: dict[str, Any] = {
    "socket_timeout": 0.25,
    "socket_connect_timeout": 0.25,
    "retry": Retry(NoBackoff(), 0),
}
STATE_KEY = "rate_limit_headers"
T = TypeVar("T")

# OpenAPI declarations of the fields, for the answers of routes that take a key.
_FIELD = {"type": "string", "pattern": "^[\\x20-\\x7e]*$", "maxLength": 1000}
RATE_LIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": {
        "description": 'The quotas: `"name";q=<requests>;w=<seconds>`, comma-separated. Sent '
        "once the key is known (its requests), and on a 401 (the address's failed "
        "authentications); not sent while the limit is off.",
        "schema": _FIELD,
    },
    "RateLimit": {
        "description": 'What is left of each: `"name";r=<remaining>;t=<seconds>`.',
        "schema": _FIELD,
    },
}
RATE_LIMITED_HEADERS: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$", "maxLength": 10},
    },
    **RATE_LIMIT_HEADERS,
}


def declare_headers(schema: dict[str, Any]) -> None:
    """Declare the RateLimit fields on every answer of every rate-limited operation.

    They are sent whatever the status once the key is counted, and on a 401 for the
    address's failures; answers given before either (a 503 of a full service) lack them,
    which a declared header allows.
    """
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "429" in responses:
                for response in responses.values():
                    response.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)


def _name(kind: str, item: RateLimitItem) -> str:
    """A policy's name, e.g. ``key-per-second`` or ``auth-failures-per-10-minutes``."""
    unit = item.GRANULARITY.name
    span = unit if item.multiples == 1 else f"{item.multiples}-{unit}s"
    return f"{kind}-per-{span}"


class Policy:
    """Named limits on one kind of counter (requests of a key, failures of an address)."""

    def __init__(self, kind: str, limits: str) -> None:
        self.kind = kind
        self.items = parse_many(limits) if limits.strip() else []
        # Fields of draft-ietf-httpapi-ratelimit-headers-10 (their syntax is unchanged
        # since -08): RateLimit-Policy lists "name";q=quota;w=window-seconds.
        self.field = ", ".join(
            f'"{_name(kind, item)}";q={item.amount};w={item.get_expiry()}' for item in self.items
        )


class Limiter:
    """Counts requests per key and failed authentications per address."""

    def __init__(self, settings: Settings) -> None:
        self.prefix = settings.rate_limit_prefix
        self.keys = Policy("key", settings.rate_limit)
        self.failures = Policy("auth-failures", settings.auth_failure_limit)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if settings.redis_url:
            storage = RedisStorage(
                settings.redis_url, key_prefix=self.prefix, wrap_exceptions=True, **REDIS_OPTIONS
            )
            self._shared = MovingWindowRateLimiter(storage)
        self._lock = threading.Lock()
        self._outage_until = 0.0

    def check_address(self, address: str) -> None:
        """Raise 429 while ``address`` is over its limit of failed authentications."""
        ids = self._ids("address", address)
        over = self._run(lambda s: [i for i in self.failures.items if not s.test(i, *ids)])
        if over:
            raise self._refusal(self.failures, over, ids)

    def count_failure(self, address: str) -> dict[str, str]:
        """Count a failed authentication from ``address``: the RateLimit fields of its limit."""
        ids = self._ids("address", address)
        self._run(lambda s: [s.hit(i, *ids) for i in self.failures.items])
        return self._fields(self.failures, ids, refused=())

    def count_request(self, key_id: object) -> dict[str, str]:
        """Count a request of key ``key_id``: its RateLimit fields, or 429 past its limit."""
        ids = self._ids("key", str(key_id))
        refused = self._run(lambda s: [i for i in self.keys.items if not s.hit(i, *ids)])
        if refused:
            raise self._refusal(self.keys, refused, ids)
        return self._fields(self.keys, ids, refused=())

    def _ids(self, *parts: str) -> tuple[str, ...]:
        """A counter's identifiers: the namespace prefix first, so tests can keep apart."""
        return (self.prefix, *parts)

    def _refusal(
        self, policy: Policy, over: Sequence[RateLimitItem], ids: tuple[str, ...]
    ) -> TooManyRequests:
        fields = self._fields(policy, ids, refused=over)
        names = ", ".join(_name(policy.kind, item) for item in over)
        who = "this API key" if policy is self.keys else "this address (failed authentications)"
        return TooManyRequests(
            f"Too many requests from {who} ({names}); retry after {fields['Retry-After']} s.",
            headers=fields,
        )

    def _fields(
        self, policy: Policy, ids: tuple[str, ...], refused: Sequence[RateLimitItem]
    ) -> dict[str, str]:
        """RateLimit-Policy, RateLimit ("name";r=remaining;t=seconds), and Retry-After."""
        if not policy.items:
            return {}
        now = time.time()
        stats = self._run(lambda s: [s.get_window_stats(i, *ids) for i in policy.items])
        waits = [max(0, math.ceil(stat.reset_time - now)) for stat in stats]
        pairs = zip(policy.items, stats, strict=True)
        left = [0 if item in refused else stat.remaining for item, stat in pairs]
        fields = {
            "RateLimit-Policy": policy.field,
            "RateLimit": ", ".join(
                f'"{_name(policy.kind, item)}";r={r};t={t}'
                for item, r, t in zip(policy.items, left, waits, strict=True)
            ),
        }
        if refused:
            wait = max(w for item, w in zip(policy.items, waits, strict=True) if item in refused)
            fields["Retry-After"] = str(max(1, wait))
        return fields

    def _run(self, work: Callable[[MovingWindowRateLimiter], T]) -> T:
        """``work`` on the shared storage, or on this process's while Redis is out."""
        if self._shared is None or time.monotonic() < self._outage_until:
            return work(self._local)
        try:
            return work(self._shared)
        except StorageError as exc:
            with self._lock:
                if time.monotonic() >= self._outage_until:
                    log.warning(
                        "rate-limit storage failed (%s); counting in this process for %.0f s",
                        exc.storage_error,
                        OUTAGE_SECONDS,
                    )
                self._outage_until = time.monotonic() + OUTAGE_SECONDS
            return work(self._local)


class RateLimitHeadersMiddleware:
    """Add the RateLimit fields a request's key earned to its answer, whatever its status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_fields(message: Message) -> None:
            fields = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and fields:
                headers = MutableHeaders(scope=message)
                for name, value in fields.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_fields)
