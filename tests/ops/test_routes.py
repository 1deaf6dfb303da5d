from __future__ import annotations

import asyncio
import json
import re

from tests.conftest import expense_body, register, running_app


async def test_health_touches_no_dependency(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["uptime_seconds"] >= 0


async def test_ready_checks_database_and_redis(client):
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


async def test_ready_is_503_when_redis_is_unreachable(base_env):
    env = {**base_env, "REDIS_URL": "redis://127.0.0.1:1/0"}
    async with running_app(env) as client:
        response = await client.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("error")
        # Liveness is unaffected, and the API still answers: a rate-limited route, whose
        # limiter cannot count, lets the request through with the full budget.
        assert (await client.get("/health")).status_code == 200
        account = await register(client)
        listed = await client.get("/api/v1/expenses", headers=account.headers)
        assert listed.status_code == 200
        assert listed.json() == {"items": [], "next_cursor": None}
        assert listed.headers["ratelimit-remaining"] == listed.headers["ratelimit-limit"]


async def test_a_busy_connection_pool_is_a_retryable_503(base_env):
    env = {**base_env, "DATABASE_POOL_SIZE": "1", "DATABASE_POOL_TIMEOUT": "1"}
    async with running_app(env) as client:
        account = await register(client)
        held = await client.app.state.engine.connect()  # the pool's only connection
        try:
            busy = await client.get("/api/v1/expenses", headers=account.headers)
        finally:
            await held.close()
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json() == {
            "status_code": 503,
            "detail": "the server is busy; retry the request",
        }
        assert (await client.get("/api/v1/expenses", headers=account.headers)).status_code == 200


async def test_ready_stays_200_while_the_request_pool_is_saturated(base_env):
    """A busy pool is load, not an outage: if /ready waited for it, every replica would fail
    readiness together and the load balancer would answer 503 for everything."""
    env = {**base_env, "DATABASE_POOL_SIZE": "1", "DATABASE_POOL_TIMEOUT": "5"}
    async with running_app(env) as client:
        # Hold the request pool's only connection from the app's own event loop, where the
        # background gauges also queue for it.
        portal = client.blocking_portal
        held = client.app.state.engine.connect()
        await asyncio.to_thread(portal.call, held.start)
        try:
            ready = await client.get("/ready")
        finally:
            await asyncio.to_thread(portal.call, held.close)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"


async def test_ready_on_the_embedded_default_has_no_redis_check(sqlite_client):
    # Readiness may take a moment while the start-up jobs hold SQLite's single writer lock.
    for _ in range(20):
        response = await sqlite_client.get("/ready")
        if response.status_code == 200:
            break
        await asyncio.sleep(0.5)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_metrics_by_route_template(client, alice):
    created = await client.post("/api/v1/expenses", json=expense_body(), headers=alice.headers)
    await client.get(f"/api/v1/expenses/{created.json()['id']}", headers=alice.headers)
    text = (await client.get("/metrics")).text
    assert "http_requests_total{" in text
    # Labelled by route template, not by the id in the URL (which would explode cardinality).
    assert re.search(r'path="/api/v1/expenses/\{expense_id(:uuid)?\}"', text)
    assert created.json()["id"] not in text
    assert "http_request_duration_seconds_bucket{" in text
    assert 'method="POST"' in text and 'status_code="201"' in text
    assert "process_cpu_seconds_total" in text


async def test_request_id_is_accepted_and_returned(client):
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] not in ("", "bad id with spaces")


async def test_openapi_lists_every_route_with_its_errors(client):
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    operations = {
        op["operationId"]: op
        for path in schema["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert {"register", "login", "createExpense", "listExpenses", "getSummary"} <= set(operations)
    assert {"401", "404", "422"} <= set(operations["getExpense"]["responses"])
    assert "409" in operations["register"]["responses"]
    docs = await client.get("/schema")
    assert docs.status_code == 200 and "<html" in docs.text.lower()


async def test_oversized_bodies_are_413(base_env):
    env = {**base_env, "MAX_REQUEST_BYTES": "2KiB"}
    async with running_app(env) as client:
        account = await register(client)
        response = await client.post(
            "/api/v1/expenses", json=expense_body(note="x" * 4000), headers=account.headers
        )
        assert response.status_code == 413


async def test_cors_allows_only_configured_origins(base_env):
    env = {**base_env, "ALLOWED_ORIGINS": "https://app.example.com"}
    async with running_app(env) as client:
        allowed = await client.options(
            "/api/v1/expenses",
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
        )
        assert allowed.headers.get("access-control-allow-origin") == "https://app.example.com"
        denied = await client.options(
            "/api/v1/expenses",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert denied.headers.get("access-control-allow-origin") != "https://evil.example"


async def test_rate_limit_answers_429_with_retry_after_and_is_shared(base_env):
    env = {**base_env, "RATE_LIMIT_MAX": "5", "RATE_LIMIT_WINDOW": "60000"}
    async with running_app(env) as replica_one, running_app(env) as replica_two:
        account = await register(replica_one)
        statuses = []
        for client in (
            replica_one,
            replica_two,
            replica_one,
            replica_two,
            replica_one,
            replica_two,
        ):
            response = await client.get("/api/v1/expenses", headers=account.headers)
            statuses.append(response.status_code)
        # Both replicas count against one budget in Redis: the sixth request is refused.
        assert statuses == [200, 200, 200, 200, 200, 429]
        body = response.json()
        assert body["status_code"] == 429
        assert 1 <= int(response.headers["retry-after"]) <= 60
        # Another user has a budget of their own.
        other = await register(replica_two)
        assert (await replica_two.get("/api/v1/me", headers=other.headers)).status_code == 200


async def test_login_is_limited_per_account(base_env):
    env = {**base_env, "AUTH_RATE_LIMIT": "3"}
    async with running_app(env) as client:
        await client.post(
            "/api/v1/auth/register",
            json={"email": "victim@example.com", "password": "Victim-Password-1"},
        )
        statuses = [
            (
                await client.post(
                    "/api/v1/auth/login",
                    json={"email": "victim@example.com", "password": f"guess-{n}"},
                )
            ).status_code
            for n in range(4)
        ]
        assert statuses[:2] == [401, 401]
        assert statuses[-1] == 429


async def test_logs_are_json_with_request_id_and_never_contain_secrets(base_env, capfd):
    env = {**base_env, "APP_ENV": "production", "LOG_LEVEL": "INFO", "JWT_SECRET": "p" * 48}
    async with running_app(env) as client:
        account = await register(client)
        await client.get("/api/v1/me", headers={**account.headers, "X-Request-ID": "trace-7"})
        await client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    captured = capfd.readouterr()
    lines = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    me = [line for line in requests if line.get("path") == "/api/v1/me"]
    assert me and me[0]["request_id"] == "trace-7" and me[0]["status"] == 200
    assert me[0]["route"] == "/api/v1/me" and "duration_ms" in me[0]
    for secret in (account.password, account.access_token, account.refresh_token, "p" * 48):
        assert secret not in captured.err
        assert secret not in captured.out


async def test_unknown_routes_are_json_404(client, alice):
    for headers in ({}, alice.headers):
        response = await client.get("/api/v1/nothing-here", headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"status_code": 404, "detail": "Not Found"}
