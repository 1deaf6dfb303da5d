"""Fixed-window request counters shared by every replica through Redis.

Litestar's built-in RateLimitMiddleware only knows whole second/minute/hour/day windows and
keys by client IP; we need a window in milliseconds (RATE_LIMIT_WINDOW), per-user budgets, and
separate per-IP and per-account budgets on login/register, so this is a small INCR+PEXPIRE
counter with an in-memory twin for the embedded default.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from expense_wise.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: int


class CounterStore(Protocol):
    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        """Count one hit in the current window; returns (count, ms until the window ends)."""
        ...


# One round trip, atomic: count the hit, start the window's expiry on its first hit, and
# return the count.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""


# Wall-clock seconds; replaceable so that tests can move time (windows are epoch-aligned, so
# every replica agrees on them).
Clock = Callable[[], float]


class RedisCounterStore:
    def __init__(self, redis: Any, key_prefix: str, clock: Clock = time.time) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.clock = clock
        self.hit_script = redis.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        now_ms = int(self.clock() * 1000)
        window_start = now_ms - now_ms % window_ms
        redis_key = f"{self.key_prefix}ratelimit:{key}:{window_start}"
        count = await self.hit_script(keys=[redis_key], args=[window_ms + 1000])
        return int(count), window_start + window_ms - now_ms


class MemoryCounterStore:
    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self.counts: dict[str, tuple[int, int]] = {}
        self.lock = asyncio.Lock()

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        now_ms = int(self.clock() * 1000)
        window_start = now_ms - now_ms % window_ms
        async with self.lock:
            start, count = self.counts.get(key, (window_start, 0))
            if start != window_start:
                count = 0
                if len(self.counts) > 100_000:  # forget finished windows now and then
                    self.counts = {k: v for k, v in self.counts.items() if v[0] == window_start}
            self.counts[key] = (window_start, count + 1)
        return count + 1, window_start + window_ms - now_ms


class RateLimiter:
    """Counts hits in `store`, failing open: a slow or unreachable store never delays or
    refuses a request. Each call waits at most `timeout_seconds`; after a failure the store
    is left alone for `pause_seconds`, so a frozen Redis costs one timeout per pause instead
    of one per request (and one log line instead of thousands)."""

    def __init__(
        self, store: CounterStore, timeout_seconds: float | None = None, pause_seconds: float = 1.0
    ) -> None:
        self.store = store
        self.timeout_seconds = timeout_seconds
        self.pause_seconds = pause_seconds
        self.paused_until = 0.0

    async def check(self, key: str, limit: int, window_ms: int) -> Decision:
        if time.monotonic() < self.paused_until:
            return Decision(True, limit, limit, 0)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                count, remaining_ms = await self.store.hit(key, window_ms)
        except Exception as error:
            # Fail open: an unreachable Redis must not take the whole API down with it;
            # /ready reports the outage.
            self.paused_until = time.monotonic() + self.pause_seconds
            log.warning(
                "rate limit store unavailable; not counting for a while",
                error=str(error) or type(error).__name__,
                pause_seconds=self.pause_seconds,
            )
            return Decision(True, limit, limit, 0)
        return Decision(
            allowed=count <= limit,
            limit=limit,
            remaining=max(0, limit - count),
            retry_after_seconds=max(1, -(-remaining_ms // 1000)),
        )


def too_many_requests_body(retry_after: int) -> bytes:
    return (
        b'{"status_code":429,"detail":"rate limit exceeded, retry after '
        + str(retry_after).encode()
        + b' seconds"}'
    )


class RateLimitMiddleware:
    """Per-user (or per client IP when anonymous) budget over every API request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        settings = state.settings
        user = scope.get("user")
        if user is not None:
            key = f"user:{user.id}"
        else:
            client = scope.get("client")
            key = f"ip:{client[0] if client else 'unknown'}"
        decision = await state.rate_limiter.check(
            key, settings.auth.rate_limit_max, settings.auth.rate_limit_window_ms
        )
        headers = [
            (b"ratelimit-limit", str(decision.limit).encode()),
            (b"ratelimit-remaining", str(decision.remaining).encode()),
        ]
        if not decision.allowed:
            await send_too_many_requests(send, decision.retry_after_seconds, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def send_too_many_requests(
    send: Send, retry_after: int, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = too_many_requests_body(retry_after)
    start: Any = {
        "type": "http.response.start",
        "status": 429,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
            *(extra_headers or []),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})
