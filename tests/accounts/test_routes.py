from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import jwt
import pytest

from tests.conftest import PASSWORD, expense_body, register


async def test_register_returns_the_account(client):
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "Ada@Example.com", "password": PASSWORD, "name": "Ada"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada"
    assert body["default_currency"] == "EUR"
    assert uuid.UUID(body["id"])
    assert "password" not in response.text and "hash" not in response.text


async def test_register_duplicate_email_is_409_case_insensitively(client, alice):
    response = await client.post(
        "/api/v1/auth/register", json={"email": alice.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["status_code"] == 409


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least"),
        ("x" * 129 + "1Aa", "at most"),
        ("aaaaaaaaaaaa", "guess"),
        ("password1234", "guess"),
    ],
)
async def test_register_rejects_weak_or_overlong_passwords(client, password, reason):
    response = await client.post(
        "/api/v1/auth/register", json={"email": "weak@example.com", "password": password}
    )
    assert response.status_code == 422
    assert reason in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"password": PASSWORD},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": PASSWORD, "admin": True},
    ],
)
async def test_register_rejects_malformed_bodies(client, body):
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_new_account_gets_default_categories(client, alice):
    response = await client.get("/api/v1/categories", headers=alice.headers)
    names = {category["name"] for category in response.json()}
    assert {"Groceries", "Transport", "Other"} <= names


async def test_login_failures_are_indistinguishable(client, alice):
    wrong_password = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": "Wrong-Password-99"}
    )
    unknown_email = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()


async def test_login_returns_a_token_pair(client, alice):
    response = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["access_token"] and body["refresh_token"]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["email"] == alice.email


async def test_refresh_rotates_and_reuse_revokes_the_chain(client, alice):
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert first.status_code == 200
    second_token = first.json()["refresh_token"]
    assert second_token != alice.refresh_token

    # The old token no longer works, and presenting it revokes the whole chain ...
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert reuse.status_code == 401
    # ... including the token that was legitimately issued after it.
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": second_token})
    assert after.status_code == 401


async def test_concurrent_refresh_of_one_token_issues_exactly_one_pair(client, alice):
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 401, 401, 401]
    [winner] = [r.json() for r in responses if r.status_code == 200]
    losers = {r.json()["detail"] for r in responses if r.status_code == 401}
    assert losers <= {
        "invalid or expired refresh token",
        "refresh token was already used; all sessions of it were revoked",
    }
    # The new access token works; the token presented more than once revoked its chain,
    # the winner's new refresh token included.
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {winner['access_token']}"}
    )
    assert me.status_code == 200
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]}
    )
    assert again.status_code == 401


async def test_refresh_with_garbage_is_401(client):
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": "nonsense"})
    assert response.status_code == 401


async def test_logout_revokes_the_refresh_token(client, alice):
    response = await client.post("/api/v1/auth/logout", json={"refresh_token": alice.refresh_token})
    assert response.status_code == 204
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refresh.status_code == 401
    unknown = await client.post("/api/v1/auth/logout", json={"refresh_token": "unknown"})
    assert unknown.status_code == 204


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer not.a.jwt"])
async def test_protected_routes_need_a_valid_bearer_token(client, header):
    headers = {"Authorization": header} if header else {}
    response = await client.get("/api/v1/expenses", headers=headers)
    assert response.status_code == 401
    assert response.json()["status_code"] == 401


def _claims(user_id: str, **overrides):
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": user_id,
        "type": "access",
        "iat": now,
        "exp": now + dt.timedelta(minutes=5),
    }
    claims.update(overrides)
    return claims


async def test_expired_tampered_and_unsigned_tokens_are_401(client, base_env, alice):
    secret = base_env["JWT_SECRET"]
    expired = jwt.encode(
        _claims(alice.id, exp=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)), secret
    )
    wrong_key = jwt.encode(_claims(alice.id), "another-secret-of-enough-length-000000")
    unsigned = jwt.encode(_claims(alice.id), None, algorithm="none")
    header, payload, signature = alice.access_token.split(".")
    tampered_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(alice.id.encode(), str(uuid.uuid4()).encode())
    ).decode()
    tampered = f"{header}.{tampered_payload}.{signature}"
    valid = jwt.encode(_claims(alice.id), secret)
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {valid}"})
    ).status_code == 200
    for token in (expired, wrong_key, unsigned, tampered):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


async def test_patch_me_changes_only_what_was_sent(client, alice):
    response = await client.patch(
        "/api/v1/me", json={"default_currency": "USD"}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["default_currency"] == "USD"
    assert response.json()["name"] == "Test"
    bad = await client.patch("/api/v1/me", json={"default_currency": "XYZ"}, headers=alice.headers)
    assert bad.status_code == 422
    created = await client.post(
        "/api/v1/expenses", json=expense_body(currency=None), headers=alice.headers
    )
    assert created.json()["currency"] == "USD"


async def test_delete_me_removes_every_record(client, alice, bob, pg_database):
    await client.post("/api/v1/expenses", json=expense_body(), headers=alice.headers)
    await client.post("/api/v1/tokens", json={"name": "script"}, headers=alice.headers)
    await client.post("/api/v1/expenses", json=expense_body(), headers=bob.headers)
    response = await client.delete("/api/v1/me", headers=alice.headers)
    assert response.status_code == 204

    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(pg_database).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo) as connection:
        for table in ("users", "expenses", "categories", "refresh_tokens", "personal_tokens"):
            column = "id" if table == "users" else "user_id"
            count = connection.execute(
                f"SELECT count(*) FROM {table} WHERE {column} = %s", (alice.id,)
            ).fetchone()
            assert count == (0,), table
        bob_rows = connection.execute(
            "SELECT count(*) FROM expenses WHERE user_id = %s", (bob.id,)
        ).fetchone()
        assert bob_rows == (1,)
    login = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    assert login.status_code == 401


async def test_personal_tokens_are_shown_once_and_work_as_bearer(client, alice, bob):
    created = await client.post(
        "/api/v1/tokens",
        json={"name": "backup script", "expires_in_days": 30},
        headers=alice.headers,
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("ewp_")
    listed = await client.get("/api/v1/tokens", headers=alice.headers)
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()] == ["backup script"]
    assert token not in listed.text

    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == alice.email

    token_id = created.json()["id"]
    assert (
        await client.delete(f"/api/v1/tokens/{token_id}", headers=bob.headers)
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/tokens/{token_id}", headers=alice.headers)
    ).status_code == 204
    after = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401


async def test_personal_token_validation(client, alice):
    for body in ({"name": ""}, {"name": "x", "expires_in_days": 0}, {}):
        response = await client.post("/api/v1/tokens", json=body, headers=alice.headers)
        assert response.status_code == 422, body


async def test_register_then_login_on_the_embedded_default(sqlite_client):
    account = await register(sqlite_client)
    response = await sqlite_client.post(
        "/api/v1/expenses", json=expense_body(), headers=account.headers
    )
    assert response.status_code == 201
