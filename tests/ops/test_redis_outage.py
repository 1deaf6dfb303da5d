"""Redis outages, on a private redis-server of this test (the shared one is never stopped or
frozen): the API fails open fast while Redis is frozen, and the worker rides out an outage and
carries on by itself."""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, expense_body, register, running_app
from tests.monitoring.stack import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


def freeze(server: PrivateRedis) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)


def thaw(server: PrivateRedis) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGCONT)


async def test_requests_stay_fast_while_redis_is_frozen(
    base_env: dict[str, str], private_redis: PrivateRedis
) -> None:
    env = {**base_env, "REDIS_URL": private_redis.url, "RATE_LIMIT_REDIS_TIMEOUT": "100ms"}
    async with running_app(env) as client:
        account = await register(client)
        counted = await client.get("/api/v1/expenses", headers=account.headers)
        assert int(counted.headers["ratelimit-remaining"]) < int(counted.headers["ratelimit-limit"])

        freeze(private_redis)
        durations = []
        started = time.monotonic()
        while time.monotonic() - started < 3:  # spans a few of the limiter's pauses
            for method, path, body in (
                ("GET", "/api/v1/expenses", None),
                ("POST", "/api/v1/expenses", expense_body()),
            ):
                began = time.perf_counter()
                response = await client.request(method, path, json=body, headers=account.headers)
                durations.append(time.perf_counter() - began)
                assert response.status_code in (200, 201), response.text
        # A request waits for at most one timed-out count (100 ms), not the socket's 5 s.
        assert max(durations) < 0.5, durations
        assert statistics.median(durations) < 0.2, durations
        began = time.perf_counter()
        login = await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        assert login.status_code == 200
        assert time.perf_counter() - began < 2.5  # password hashing included

        thaw(private_redis)
        time.sleep(1.2)  # the limiter's pause after the last failure
        again = await client.get("/api/v1/expenses", headers=account.headers)
        first = int(again.headers["ratelimit-remaining"])
        again = await client.get("/api/v1/expenses", headers=account.headers)
        assert int(again.headers["ratelimit-remaining"]) == first - 1  # counting again


def test_the_timeout_is_a_validated_setting() -> None:
    from expense_wise.settings import SettingsError, load_settings

    assert load_settings({"RATE_LIMIT_REDIS_TIMEOUT": "50"}).redis.rate_limit_timeout_ms == 50
    assert load_settings({}).redis.rate_limit_timeout_ms == 100
    with pytest.raises(SettingsError, match="RATE_LIMIT_REDIS_TIMEOUT"):
        load_settings({"RATE_LIMIT_REDIS_TIMEOUT": "soon"})
