"""Security headers: nosniff on every response, no-store on the API (tokens and personal data),
HSTS only on HTTPS requests, where a proxy's X-Forwarded-Proto counts only from
TRUSTED_PROXIES."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from expense_wise.app import create_app
from expense_wise.db.migrate import upgrade
from expense_wise.settings import load_settings
from tests.conftest import PASSWORD, Account, live_server


async def test_api_responses_are_not_cached_nor_sniffed(
    client: AsyncTestClient[Any], alice: Account
) -> None:
    login = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    token = await client.post("/api/v1/tokens", json={"name": "script"}, headers=alice.headers)
    listing = await client.get("/api/v1/expenses", headers=alice.headers)
    refused = await client.get("/api/v1/expenses")
    for response in (login, refresh, token, listing, refused):
        assert response.status_code in (200, 201, 401), response.text
        assert response.headers["cache-control"] == "no-store", response.request.url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in response.headers  # plain HTTP

    health = await client.get("/health")
    assert health.headers["x-content-type-options"] == "nosniff"
    # The documentation page still renders (HTML, not blocked by the headers).
    docs = await client.get("/schema")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert docs.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("setting", "expected"), [(None, "max-age=31536000"), ("1d", "max-age=86400"), ("0", None)]
)
async def test_hsts_on_https_requests(
    base_env: dict[str, str], setting: str | None, expected: str | None
) -> None:
    env = dict(base_env) if setting is None else {**base_env, "HSTS_MAX_AGE": setting}
    app = create_app(load_settings(env))
    async with AsyncTestClient(app=app, base_url="https://api.example.com") as client:
        response = await client.get("/health")
        assert response.headers.get("strict-transport-security") == expected
        response = await client.post(
            "/api/v1/auth/login", json={"email": "a@b.co", "password": "x"}
        )
        assert response.status_code == 401
        assert response.headers.get("strict-transport-security") == expected


def _hsts(base: str, forwarded_proto: str | None) -> str | None:
    request = urllib.request.Request(f"{base}/health")
    if forwarded_proto:
        request.add_header("X-Forwarded-Proto", forwarded_proto)
    with urllib.request.urlopen(request, timeout=10) as response:
        value: str | None = response.headers.get("strict-transport-security")
        return value


@pytest.mark.parametrize("trusted", [True, False])
def test_hsts_behind_a_proxy_only_when_the_proxy_is_trusted(
    base_env: dict[str, str], trusted: bool
) -> None:
    env = {**base_env, **({"TRUSTED_PROXIES": "127.0.0.1/32"} if trusted else {})}
    upgrade(env["DATABASE_URL"])
    with live_server(env) as (base, _process):
        assert _hsts(base, None) is None
        assert _hsts(base, "http") is None
        assert _hsts(base, "https") == ("max-age=31536000" if trusted else None)
