"""A PostgreSQL outage answers a retryable 503 with Retry-After and the JSON error body on
every route, never a 500. The database is reached through a TCP proxy that the test cuts, as
when the server stops; the shared PostgreSQL is never touched."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from sqlalchemy.engine import make_url

from tests.conftest import PASSWORD, expense_body, register, running_app
from tests.monitoring.stack import TcpProxy


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    upstream = make_url("postgresql://postgres@127.0.0.1:5432").port or 5432
    tcp = TcpProxy(upstream)
    yield tcp
    tcp.close()


def through(env: dict[str, str], proxy: TcpProxy) -> dict[str, str]:
    url = make_url(env["DATABASE_URL"]).set(host="127.0.0.1", port=proxy.port)
    return {**env, "DATABASE_URL": url.render_as_string(hide_password=False)}


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def assert_retryable(response: Any, what: str) -> None:
    assert response.status_code == 503, f"{what}: {response.status_code} {response.text}"
    assert response.headers.get("retry-after", "").isdigit(), what
    body = response.json()
    assert body["status_code"] == 503, what
    assert isinstance(body["detail"], str) and body["detail"], what


async def test_every_route_answers_a_retryable_503_while_postgresql_is_down(
    base_env: dict[str, str], proxy: TcpProxy
) -> None:
    async with running_app(through(base_env, proxy)) as client:
        account = await register(client)
        token = (
            await client.post("/api/v1/tokens", json={"name": "script"}, headers=account.headers)
        ).json()["token"]
        created = await client.post(
            "/api/v1/expenses", json=expense_body(), headers=account.headers
        )
        assert created.status_code == 201
        expense_id = created.json()["id"]
        schema = (await client.get("/schema/openapi.json")).json()

        proxy.cut()
        jwt, pat = account.headers, {"Authorization": f"Bearer {token}"}
        named = {
            "login": await client.post(
                "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
            ),
            "register": await client.post(
                "/api/v1/auth/register",
                json={"email": f"n-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
            ),
            "refresh": await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
            ),
            "reset": await client.post(
                "/api/v1/auth/password-reset", json={"email": account.email}
            ),
            "reset confirm": await client.post(
                "/api/v1/auth/password-reset/confirm",
                json={"token": "x" * 43, "password": PASSWORD + "!"},
            ),
            "upload": await client.post(
                "/api/v1/receipts", files={"file": ("r.png", png(), "image/png")}, headers=jwt
            ),
            "export": await client.get("/api/v1/expenses/export", headers=jwt),
            "list": await client.get("/api/v1/expenses", headers=jwt),
            "create": await client.post("/api/v1/expenses", json=expense_body(), headers=jwt),
            "patch": await client.patch(
                f"/api/v1/expenses/{expense_id}", json={"merchant": "X"}, headers=jwt
            ),
            "personal token": await client.get("/api/v1/me", headers=pat),
            "summary": await client.get("/api/v1/reports/summary", headers=jwt),
        }
        for what, response in named.items():
            assert_retryable(response, what)

        # Every other route and method, with made-up ids: a 4xx where the request is refused
        # before the database is asked, else the 503; never a 500.
        for path, methods in schema["paths"].items():
            url = path
            for parameter in [part for part in path.split("/") if part.startswith("{")]:
                url = url.replace(parameter, str(uuid.uuid4()))
            for method in methods:
                if method not in {"get", "post", "patch", "put", "delete"}:
                    continue
                body = {} if method in {"post", "patch", "put"} else None
                response = await client.request(method.upper(), url, json=body, headers=jwt)
                assert response.status_code != 500, f"{method} {path}: {response.text}"
                if path == "/ready":  # the probe's own body: which check failed
                    assert response.status_code == 503
                    assert response.json()["checks"]["database"].startswith("error")
                elif response.status_code == 503:
                    assert_retryable(response, f"{method} {path}")

        proxy.restore()
        # The pool renews its connections: the API recovers by itself.
        for _ in range(3):
            response = await client.get("/api/v1/expenses", headers=jwt)
            if response.status_code == 200:
                break
        assert response.status_code == 200, response.text
