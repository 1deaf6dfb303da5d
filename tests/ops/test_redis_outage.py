"""Redis outages, on a private redis-server of this test (the shared one is never stopped or
frozen): the API fails open fast while Redis is frozen, and the worker rides out an outage and
carries on by itself."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import (
    PASSWORD,
    WorkerProcess,
    expense_body,
    free_port,
    register,
    running_app,
)
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
            for method, path, body, status in (
                ("GET", "/api/v1/expenses", None, 200),
                ("POST", "/api/v1/expenses", expense_body(), 201),
            ):
                began = time.perf_counter()
                response = await client.request(method, path, json=body, headers=account.headers)
                durations.append(time.perf_counter() - began)
                assert response.status_code == status, response.text
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


def worker_health(port: int) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


async def test_the_worker_rides_out_a_redis_outage_and_catches_up_by_itself(
    base_env: dict[str, str],
    private_redis: PrivateRedis,
    start_worker: Callable[[dict[str, str]], WorkerProcess],
) -> None:
    port = free_port()
    env = {**base_env, "REDIS_URL": private_redis.url, "WORKER_METRICS_PORT": str(port)}
    worker = start_worker(env)
    assert worker.process is not None
    wait_until(lambda: worker_health(port)[0] == 200, 10, "healthy at start")

    private_redis.stop()  # Redis goes away, and its data with it
    async with running_app(env) as client:
        account = await register(client)
        uploaded = []
        for color in range(3):
            image = io.BytesIO()
            Image.new("RGB", (64, 48), (color * 80, 10, 10)).save(image, format="PNG")
            response = await client.post(
                "/api/v1/receipts",
                files={"file": ("r.png", image.getvalue(), "image/png")},
                headers=account.headers,
            )
            assert response.status_code == 202, response.text
            uploaded.append(response.json()["id"])

        # The outage is reported while it lasts, and the worker stays up through it.
        wait_until(lambda: worker_health(port)[0] == 503, 15, "health reports the outage")
        _, body = worker_health(port)
        assert body["status"] == "unhealthy" and body["redis"].startswith("unreachable for")
        time.sleep(8)  # longer than ARQ's own five one-second connection retries
        assert worker.process.poll() is None, worker.log_tail()

        private_redis.start()  # back on the same port, empty
        wait_until(lambda: worker_health(port)[0] == 200, 20, "healthy again")

        async def statuses() -> set[str]:
            found = set()
            for receipt_id in uploaded:
                response = await client.get(
                    f"/api/v1/receipts/{receipt_id}", headers=account.headers
                )
                found.add(response.json()["status"])
            return found

        deadline = time.monotonic() + 60
        while (found := await statuses()) & {"pending", "processing"}:
            assert time.monotonic() < deadline, f"still {found}:\n{worker.log_tail()}"
            await asyncio.sleep(0.5)
        assert found <= {"done", "failed"}
    assert worker.process.poll() is None  # the same process, never restarted
    assert "redis unreachable; the worker retries" in worker.log_path.read_text()


def test_backoff_grows_to_a_bound() -> None:
    from expense_wise.runtime.arq_runner import backoff_seconds

    assert [backoff_seconds(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_frozen_redis_is_reported_by_the_worker_and_survived(
    base_env: dict[str, str],
    private_redis: PrivateRedis,
    start_worker: Callable[[dict[str, str]], WorkerProcess],
) -> None:
    """SIGSTOP: connections hang instead of failing. The worker's socket timeout turns that
    into an outage it reports and rides out."""
    port = free_port()
    env = {**base_env, "REDIS_URL": private_redis.url, "WORKER_METRICS_PORT": str(port)}
    worker = start_worker(env)
    assert worker.process is not None
    wait_until(lambda: worker_health(port)[0] == 200, 10, "healthy at start")
    freeze(private_redis)
    try:
        wait_until(lambda: worker_health(port)[0] == 503, 30, "health reports the frozen Redis")
    finally:
        thaw(private_redis)
    wait_until(lambda: worker_health(port)[0] == 200, 20, "healthy again")
    assert worker.process.poll() is None, worker.log_tail()
