"""Rate-limit windows with a fake clock: the counters, the decision, and the middleware as a
bare ASGI app. The Redis store runs against the real Redis the suite uses."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as redis_async

from expense_wise import ratelimit
from expense_wise.ratelimit import (
    Decision,
    MemoryCounterStore,
    RateLimiter,
    RateLimitMiddleware,
    RedisCounterStore,
    too_many_requests_body,
)
from tests.conftest import REDIS_URL

WINDOW_MS = 60_000
T0 = 1_700_000_040.0  # exactly the start of a 60 s window (1_700_000_040 % 60 == 0)


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- The in-memory counter of the embedded default -------------------------------------------


async def test_memory_counter_counts_per_key_within_a_window():
    clock = FakeClock()
    store = MemoryCounterStore(clock)
    assert await store.hit("a", WINDOW_MS) == (1, 60_000)
    clock.now = T0 + 12.3456
    assert await store.hit("a", WINDOW_MS) == (2, 47_655)
    assert await store.hit("b", WINDOW_MS) == (1, 47_655)
    clock.now = T0 + 59.999
    assert await store.hit("a", WINDOW_MS) == (3, 1)


async def test_memory_counter_starts_again_in_the_next_window():
    clock = FakeClock(T0 + 59)
    store = MemoryCounterStore(clock)
    assert await store.hit("a", WINDOW_MS) == (1, 1000)
    assert await store.hit("a", WINDOW_MS) == (2, 1000)
    clock.now = T0 + 60
    assert await store.hit("a", WINDOW_MS) == (1, 60_000)
    assert store.counts["a"] == (int((T0 + 60) * 1000), 1)
    clock.now = T0 + 61.5  # another window length: windows follow the argument
    assert await store.hit("a", 1000) == (1, 500)


async def test_memory_counter_forgets_finished_windows_once_large():
    clock = FakeClock()
    store = MemoryCounterStore(clock)
    old_start = int(T0 * 1000)
    store.counts = {f"old-{n}": (old_start, 1) for n in range(100_000)}
    clock.now = T0 + 60
    await store.hit("old-0", WINDOW_MS)
    assert len(store.counts) == 100_000  # at the threshold: nothing dropped yet
    store.counts["old-extra"] = (old_start, 1)
    assert await store.hit("old-1", WINDOW_MS) == (1, 60_000)
    assert store.counts == {
        "old-0": (old_start + WINDOW_MS, 1),
        "old-1": (old_start + WINDOW_MS, 1),
    }


# --- The decision ----------------------------------------------------------------------------


class ScriptedStore:
    def __init__(self, count: int, remaining_ms: int) -> None:
        self.result = (count, remaining_ms)
        self.calls: list[tuple[str, int]] = []

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        self.calls.append((key, window_ms))
        return self.result


@pytest.mark.parametrize(
    ("count", "remaining_ms", "expected"),
    [
        (1, 60_000, Decision(True, 3, 2, 60)),
        (3, 59_001, Decision(True, 3, 0, 60)),
        (3, 59_000, Decision(True, 3, 0, 59)),
        (4, 1_500, Decision(False, 3, 0, 2)),
        (9, 1, Decision(False, 3, 0, 1)),
        (9, 0, Decision(False, 3, 0, 1)),  # never "retry after 0 seconds"
    ],
)
async def test_decision(count, remaining_ms, expected):
    store = ScriptedStore(count, remaining_ms)
    assert await RateLimiter(store).check("user:1", 3, WINDOW_MS) == expected
    assert store.calls == [("user:1", WINDOW_MS)]


class BrokenStore:
    def __init__(self) -> None:
        self.calls = 0

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        self.calls += 1
        raise ConnectionError("redis is down")


class FrozenStore:
    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        await asyncio.sleep(30)
        raise AssertionError("not reached")


class LogRecorder:
    """Stands in for the module's logger: structlog caches loggers once the app has
    configured it, so capture_logs() sees nothing in a full run."""

    def __init__(self) -> None:
        self.warnings: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.warnings.append((event, fields))


@pytest.fixture
def logs(monkeypatch) -> LogRecorder:
    recorder = LogRecorder()
    monkeypatch.setattr(ratelimit, "log", recorder)
    return recorder


async def test_an_unreachable_store_fails_open_says_so_and_is_left_alone_for_a_while(logs):
    store = BrokenStore()
    limiter = RateLimiter(store, pause_seconds=3600)
    assert await limiter.check("user:1", 5, WINDOW_MS) == Decision(True, 5, 5, 0)
    assert await limiter.check("user:1", 5, WINDOW_MS) == Decision(True, 5, 5, 0)
    assert store.calls == 1  # paused after the failure
    assert logs.warnings == [
        (
            "rate limit store unavailable; not counting for a while",
            {"error": "redis is down", "pause_seconds": 3600},
        )
    ]
    assert RateLimiter(store).pause_seconds == 1.0  # the documented default
    no_pause = RateLimiter(store, pause_seconds=0)
    await no_pause.check("user:1", 5, WINDOW_MS)
    await no_pause.check("user:1", 5, WINDOW_MS)
    assert store.calls == 3


async def test_a_frozen_store_costs_one_timeout(logs):
    limiter = RateLimiter(FrozenStore(), timeout_seconds=0.05)
    started = time.monotonic()
    assert await limiter.check("ip:x", 2, WINDOW_MS) == Decision(True, 2, 2, 0)
    assert await limiter.check("ip:x", 2, WINDOW_MS) == Decision(True, 2, 2, 0)
    assert time.monotonic() - started < 5
    assert [fields["error"] for _, fields in logs.warnings] == ["TimeoutError"]


# --- The Redis store -------------------------------------------------------------------------


async def test_redis_counter_shares_the_window_and_expires_its_key():
    client = redis_async.Redis.from_url(REDIS_URL)
    prefix = f"ew-test:{uuid.uuid4().hex[:8]}:"
    clock = FakeClock(T0 + 20)
    try:
        one = RedisCounterStore(client, prefix, clock)
        two = RedisCounterStore(client, prefix, clock)  # another replica
        assert await one.hit("user:7", WINDOW_MS) == (1, 40_000)
        clock.now = T0 + 30.25
        assert await two.hit("user:7", WINDOW_MS) == (2, 29_750)
        assert await one.hit("user:8", WINDOW_MS) == (1, 29_750)
        key = f"{prefix}ratelimit:user:7:{int(T0 * 1000)}"
        assert int(await client.get(key)) == 2
        # The expiry is set on the first hit: a window plus a second of slack, not renewed.
        ttl = await client.pttl(key)
        assert WINDOW_MS < ttl <= WINDOW_MS + 1000  # outlives its window, then goes
        clock.now = T0 + 60
        assert await one.hit("user:7", WINDOW_MS) == (1, 60_000)
        assert await client.exists(f"{prefix}ratelimit:user:7:{int((T0 + 60) * 1000)}") == 1
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


# --- The middleware --------------------------------------------------------------------------


def make_state(store: Any, limit: int = 2) -> SimpleNamespace:
    auth = SimpleNamespace(rate_limit_max=limit, rate_limit_window_ms=WINDOW_MS)
    return SimpleNamespace(settings=SimpleNamespace(auth=auth), rate_limiter=RateLimiter(store))


async def call(
    state: SimpleNamespace,
    path: str,
    *,
    user: Any = None,
    client: tuple[str, int] | None = ("203.0.113.9", 5000),
    scope_type: str = "http",
) -> tuple[list[dict[str, Any]], bool]:
    """Send one request through the middleware; (the messages sent, whether the app ran).
    The app answers without headers of its own on /api/v1/bare."""
    ran = []

    async def app(app_scope, app_receive, send):
        assert app_scope is scope and app_receive is receive  # passed through untouched
        ran.append(True)
        start: dict[str, Any] = {"type": "http.response.start", "status": 200}
        if path != "/api/v1/bare":
            start["headers"] = [(b"x-app", b"1")]
        await send(start)
        await send({"type": "http.response.body", "body": b"ok", "more_body": False})

    sent: list[dict[str, Any]] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    scope: dict[str, Any] = {"type": scope_type, "path": path, "app": SimpleNamespace(state=state)}
    if client is not None:
        scope["client"] = client
    if user is not None:
        scope["user"] = user
    await RateLimitMiddleware(app)(scope, receive, send)
    return sent, bool(ran)


def headers(message: dict[str, Any]) -> dict[bytes, bytes]:
    return dict(message["headers"])


async def test_headers_on_every_answer_and_an_exact_retry_after_on_429():
    clock = FakeClock(T0 + 12.5)
    state = make_state(MemoryCounterStore(clock), limit=2)
    user = SimpleNamespace(id=uuid.UUID(int=1))
    first, ran = await call(state, "/api/v1/expenses", user=user)
    assert ran
    assert first[0]["status"] == 200
    assert headers(first[0]) == {
        b"x-app": b"1",
        b"ratelimit-limit": b"2",
        b"ratelimit-remaining": b"1",
    }
    assert first[1]["body"] == b"ok"
    second, _ = await call(state, "/api/v1/expenses", user=user)
    assert headers(second[0])[b"ratelimit-remaining"] == b"0"
    refused, ran = await call(state, "/api/v1/expenses", user=user)
    assert not ran
    body = b'{"status_code":429,"detail":"rate limit exceeded, retry after 48 seconds"}'
    assert refused == [
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"48"),
                (b"ratelimit-limit", b"2"),
                (b"ratelimit-remaining", b"0"),
            ],
        },
        {"type": "http.response.body", "body": body, "more_body": False},
    ]
    clock.now = T0 + 60  # the next window
    again, ran = await call(state, "/api/v1/expenses", user=user)
    assert ran and headers(again[0])[b"ratelimit-remaining"] == b"1"


async def test_headers_are_added_when_the_app_sends_none():
    state = make_state(MemoryCounterStore(FakeClock()), limit=5)
    sent, ran = await call(state, "/api/v1/bare")
    assert ran
    assert sent[0]["headers"] == [(b"ratelimit-limit", b"5"), (b"ratelimit-remaining", b"4")]


async def test_health_metrics_and_non_http_scopes_are_not_limited():
    store = ScriptedStore(999, 1000)
    state = make_state(store, limit=1)
    for path in ("/health", "/ready", "/metrics", "/docs"):
        sent, ran = await call(state, path)
        assert ran and sent[0]["status"] == 200
        assert b"ratelimit-limit" not in headers(sent[0])
    _, ran = await call(state, "/api/v1/expenses", scope_type="websocket")
    assert ran
    assert store.calls == []
    _, ran = await call(state, "/api/v1/expenses")
    assert not ran and store.calls == [("ip:203.0.113.9", WINDOW_MS)]


async def test_budgets_are_per_user_and_per_anonymous_client():
    store = MemoryCounterStore(FakeClock())
    state = make_state(store, limit=1)
    alice = SimpleNamespace(id=uuid.UUID(int=1))
    bob = SimpleNamespace(id=uuid.UUID(int=2))

    async def status(**kwargs: Any) -> int:
        sent, _ = await call(state, "/api/v1/me", **kwargs)
        return int(sent[0]["status"])

    assert await status(user=alice) == 200
    assert await status(user=bob) == 200
    assert await status(user=alice) == 429
    assert await status(client=("198.51.100.1", 1)) == 200
    assert await status(client=("198.51.100.2", 1)) == 200  # another anonymous client
    assert await status(client=("198.51.100.1", 2)) == 429  # same address, another port
    assert await status(client=None) == 200
    assert await status(client=None) == 429
    assert set(store.counts) == {
        f"user:{alice.id}",
        f"user:{bob.id}",
        "ip:198.51.100.1",
        "ip:198.51.100.2",
        "ip:unknown",
    }


async def test_a_broken_store_lets_requests_through_with_the_full_budget():
    state = make_state(BrokenStore(), limit=7)
    sent, ran = await call(state, "/api/v1/expenses")
    assert ran
    assert headers(sent[0])[b"ratelimit-remaining"] == b"7"


def test_too_many_requests_body():
    assert too_many_requests_body(17) == (
        b'{"status_code":429,"detail":"rate limit exceeded, retry after 17 seconds"}'
    )
