"""The JWT signing key: production requires JWT_SECRET; everywhere else an unset JWT_SECRET
means a random key generated into DATA_DIR on first start, never the public development value."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import jwt
import pytest

from expense_wise.settings import (
    DEVELOPMENT_JWT_SECRET,
    SettingsError,
    load_settings,
    with_local_jwt_secret,
)
from tests.conftest import register, running_app


def forged(user_id: str, secret: str) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": user_id, "type": "access", "iat": now, "exp": now + dt.timedelta(minutes=5)}
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


async def test_embedded_default_signs_with_a_generated_key_kept_in_data_dir(
    sqlite_env: dict[str, str],
) -> None:
    assert "JWT_SECRET" not in sqlite_env
    secret_file = Path(sqlite_env["DATA_DIR"]) / "jwt-secret"
    async with running_app(sqlite_env) as client:
        account = await register(client)
        assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200
        # A token signed with the development value published in the source is refused.
        response = await client.get(
            "/api/v1/me", headers=forged(account.id, DEVELOPMENT_JWT_SECRET)
        )
        assert response.status_code == 401

    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    key = secret_file.read_text().strip()
    assert len(key) >= 32 and key != DEVELOPMENT_JWT_SECRET
    jwt.decode(account.access_token, key, algorithms=["HS256"])  # it is the signing key

    # The next start reuses it: tokens issued before a restart still work.
    async with running_app(sqlite_env) as client:
        assert (await client.get("/api/v1/me", headers=account.headers)).status_code == 200
    assert secret_file.read_text().strip() == key


def test_each_data_dir_gets_its_own_key_and_jwt_secret_wins(tmp_path: Path) -> None:
    first = with_local_jwt_secret(load_settings({"DATA_DIR": str(tmp_path / "a")}))
    second = with_local_jwt_secret(load_settings({"DATA_DIR": str(tmp_path / "b")}))
    assert first.auth.jwt_secret != second.auth.jwt_secret
    explicit = with_local_jwt_secret(
        load_settings({"DATA_DIR": str(tmp_path / "c"), "JWT_SECRET": "x" * 40})
    )
    assert explicit.auth.jwt_secret == "x" * 40
    assert not (tmp_path / "c" / "jwt-secret").exists()


def test_a_damaged_key_file_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "jwt-secret").write_text("")
    with pytest.raises(SettingsError, match="jwt-secret"):
        with_local_jwt_secret(load_settings({"DATA_DIR": str(tmp_path)}))


def test_production_still_requires_jwt_secret(tmp_path: Path) -> None:
    env = {
        "APP_ENV": "production",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql://u@localhost/db",
    }
    with pytest.raises(SettingsError, match="JWT_SECRET: required"):
        load_settings(env)
    assert not (tmp_path / "jwt-secret").exists()
