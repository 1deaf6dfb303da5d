"""Signing out everywhere: a confirmed password reset and logout-all void every token of the
account at once (personal access tokens, refresh tokens, access JWTs issued before), on this
API process at once and on every other within REVOCATION_CHECK_INTERVAL; a deleted account's
JWT is refused like any other invalid token."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import (
    PASSWORD,
    Account,
    SmtpServer,
    expense_body,
    register,
    run_worker_burst,
    running_app,
)

NEW_PASSWORD = "Another-Sturdy-Password-7"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def personal_token(client: AsyncTestClient[Any], account: Account) -> str:
    response = await client.post("/api/v1/tokens", json={"name": "script"}, headers=account.headers)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def status(client: AsyncTestClient[Any], token: str) -> int:
    return (await client.get("/api/v1/expenses", headers=bearer(token))).status_code


async def login(client: AsyncTestClient[Any], email: str, password: str) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_a_confirmed_reset_voids_personal_and_access_tokens_issued_before(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        alice = await register(client, "alice@example.com")
        bob = await register(client, "bob@example.com")
        alice_pat, bob_pat = await personal_token(client, alice), await personal_token(client, bob)
        assert await status(client, alice_pat) == await status(client, alice.access_token) == 200

        await client.post("/api/v1/auth/password-reset", json={"email": alice.email})
        await run_worker_burst(mail_env)
        [reset] = [m for m in smtp_server.messages if m["Subject"] == "Reset your password"]
        text = reset.get_body(preferencelist=("plain",)).get_content()
        assert "signs out every session" in text
        match = re.search(r"token=([A-Za-z0-9_\-]+)", text)
        assert match
        confirmed = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": match.group(1), "password": NEW_PASSWORD},
        )
        assert confirmed.status_code == 204, confirmed.text

        # Right after the reset, with no wait: the personal token reads and writes nothing,
        # and neither does the access token issued before the reset.
        assert await status(client, alice_pat) == 401
        assert await status(client, alice.access_token) == 401
        write = await client.post(
            "/api/v1/expenses", json=expense_body(), headers=bearer(alice_pat)
        )
        assert write.status_code == 401
        assert (await client.get("/api/v1/tokens", headers=bearer(alice_pat))).status_code == 401
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token}
        )
        assert refreshed.status_code == 401

        # New credentials work, at once.
        fresh = await login(client, alice.email, NEW_PASSWORD)
        assert await status(client, fresh) == 200
        listed = await client.get("/api/v1/tokens", headers=bearer(fresh))
        assert listed.json() == []  # the old personal token is gone, not merely refused
        new_pat = await personal_token(client, Account(alice.id, alice.email, "", fresh, ""))
        assert await status(client, new_pat) == 200

        # The other user is untouched.
        assert await status(client, bob_pat) == await status(client, bob.access_token) == 200


async def test_logout_all_voids_every_token_of_the_caller_only(
    client: AsyncTestClient[Any], alice: Account, bob: Account
) -> None:
    alice_pat, bob_pat = await personal_token(client, alice), await personal_token(client, bob)
    second_session = await login(client, alice.email, PASSWORD)

    assert (await client.post("/api/v1/auth/logout-all")).status_code == 401  # needs a token
    response = await client.post("/api/v1/auth/logout-all", headers=alice.headers)
    assert response.status_code == 204, response.text

    for token in (alice.access_token, second_session, alice_pat):
        assert await status(client, token) == 401
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token}
    )
    assert refreshed.status_code == 401
    assert await status(client, await login(client, alice.email, PASSWORD)) == 200
    assert await status(client, bob_pat) == await status(client, bob.access_token) == 200


async def test_logout_all_reaches_another_api_process_within_the_check_interval(
    base_env: dict[str, str],
) -> None:
    """Two app instances on one database stand for two API processes: each keeps its own
    cache of the account state, so the second learns of the logout from the database."""
    env = {**base_env, "REVOCATION_CHECK_INTERVAL": "1"}
    async with running_app(env) as first, running_app(env) as second:
        alice = await register(first)
        bob = await register(first)
        # The second process has checked both accounts and caches that their tokens are good.
        assert await status(second, alice.access_token) == await status(second, bob.access_token)
        assert await status(second, alice.access_token) == 200

        assert (
            await first.post("/api/v1/auth/logout-all", headers=alice.headers)
        ).status_code == 204
        started = time.monotonic()
        assert await status(first, alice.access_token) == 401  # the process that did it: at once
        while await status(second, alice.access_token) == 200:
            assert time.monotonic() - started < 1.5, "still valid on the other process"
            await asyncio.sleep(0.05)
        assert await status(second, bob.access_token) == 200


async def test_a_deleted_accounts_token_is_401_everywhere(base_env: dict[str, str]) -> None:
    env = {**base_env, "REVOCATION_CHECK_INTERVAL": "1"}
    async with running_app(env) as client, running_app(env) as other_process:
        alice = await register(client)
        assert await status(other_process, alice.access_token) == 200
        assert (await client.delete("/api/v1/me", headers=alice.headers)).status_code == 204

        requests = [
            ("GET", "/api/v1/me", None),
            ("GET", "/api/v1/expenses", None),
            ("POST", "/api/v1/expenses", expense_body()),
            ("POST", "/api/v1/categories", {"name": "Travel"}),
            ("POST", "/api/v1/tokens", {"name": "script"}),
            ("POST", "/api/v1/budgets", {"amount": "100", "currency": "EUR"}),
            ("DELETE", "/api/v1/me", None),
        ]
        for method, path, body in requests:
            response = await client.request(method, path, json=body, headers=alice.headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["status_code"] == 401

        await asyncio.sleep(1.1)  # the other process re-reads the account after the interval
        for method, path, body in requests:
            response = await other_process.request(method, path, json=body, headers=alice.headers)
            assert response.status_code == 401, (method, path, response.text)


async def test_the_revocation_check_reads_the_database_once_per_interval(
    client: AsyncTestClient[Any], alice: Account
) -> None:
    from sqlalchemy import event

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "tokens_valid_after" in statement and "UPDATE" not in statement:
            statements.append(statement)

    engine = client.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(20):
            assert await status(client, alice.access_token) == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 1  # the first request reads it; the interval (5 s) covers the rest
