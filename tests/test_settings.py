from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from expense_wise.settings import (
    DEVELOPMENT_JWT_SECRET,
    SettingsError,
    load_settings,
    parse_duration,
    parse_size,
)


def test_defaults_are_the_embedded_setup():
    settings = load_settings({})
    assert settings.app_env == "development"
    assert settings.server.port == 8000
    assert settings.database.url == "sqlite+aiosqlite:///var/expense-wise.db"
    assert settings.embedded
    assert settings.auth.access_token_ttl == 15 * 60
    assert settings.auth.refresh_token_ttl == 7 * 86400
    assert settings.auth.rate_limit_window_ms == 3_600_000
    assert settings.auth.rate_limit_max == 1000
    assert settings.storage.receipt_max_bytes == 10 * 1024 * 1024
    assert settings.worker.receipt_stale_seconds == 60
    assert settings.server.import_max_rows == 50_000
    assert settings.describe()["jobs"] == "in-process"


def test_production_values_are_parsed():
    settings = load_settings(
        {
            "APP_ENV": "production",
            "PORT": "9000",
            "DATABASE_URL": "postgres://app:pw@db:5432/app",
            "REDIS_URL": "rediss://:token@cache:6379/0",
            "JWT_SECRET": "s" * 40,
            "JWT_EXPIRES_IN": "30d",
            "ACCESS_TOKEN_TTL": "5m",
            "ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "AWS_S3_BUCKET": "receipts",
            "RECEIPT_MAX_BYTES": "5MiB",
            "RECEIPT_STALE_SECONDS": "2m",
            "IMPORT_MAX_ROWS": "2000",
        }
    )
    assert settings.worker.receipt_stale_seconds == 120
    assert settings.server.import_max_rows == 2000
    assert settings.database.url == "postgresql+psycopg://app:pw@db:5432/app"
    assert settings.auth.refresh_token_ttl == 30 * 86400
    assert settings.auth.access_token_ttl == 300
    assert settings.server.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.storage.receipt_max_bytes == 5 * 1024 * 1024
    assert not settings.embedded
    assert "pw" not in str(settings.describe())


def test_trusted_proxies_are_networks_and_default_to_none():
    assert load_settings({}).server.trusted_proxies == ()
    settings = load_settings({"TRUSTED_PROXIES": "10.20.0.0/16, 127.0.0.1,fd00::/8"})
    assert settings.server.trusted_proxies == ("10.20.0.0/16", "127.0.0.1/32", "fd00::/8")
    with pytest.raises(SettingsError) as error:
        load_settings({"TRUSTED_PROXIES": "10.20.5.0/16,proxy.internal"})
    assert "TRUSTED_PROXIES" in str(error.value)


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(SettingsError) as error:
        load_settings(
            {
                "APP_ENV": "staging",
                "PORT": "eighty",
                "DATABASE_URL": "mysql://x",
                "REDIS_URL": "http://cache",
                "ACCESS_TOKEN_TTL": "soon",
                "RATE_LIMIT_MAX": "-1",
                "ALLOWED_ORIGINS": "example.com",
                "LOG_LEVEL": "LOUD",
                "RECEIPT_STALE_SECONDS": "0",
                "IMPORT_MAX_ROWS": "0",
            }
        )
    message = str(error.value)
    for name in (
        "APP_ENV",
        "PORT",
        "DATABASE_URL",
        "REDIS_URL",
        "ACCESS_TOKEN_TTL",
        "RATE_LIMIT_MAX",
        "ALLOWED_ORIGINS",
        "LOG_LEVEL",
        "RECEIPT_STALE_SECONDS",
        "IMPORT_MAX_ROWS",
    ):
        assert name in message
    assert len(error.value.problems) == 10


@pytest.mark.parametrize("secret", ["", DEVELOPMENT_JWT_SECRET, "short-secret"])
def test_production_refuses_weak_jwt_secrets(secret):
    env = {"APP_ENV": "production", "DATABASE_URL": "postgresql://db/app", "JWT_SECRET": secret}
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings(env)


def test_production_requires_a_database_url():
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings({"APP_ENV": "production", "JWT_SECRET": "s" * 40})


@pytest.mark.parametrize(
    ("text", "seconds"), [("900", 900), ("15m", 900), ("12h", 43200), ("7d", 604800)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_sizes():
    assert parse_size("1048576") == 1048576
    assert parse_size("10MiB") == 10 * 1024 * 1024
    with pytest.raises(ValueError):
        parse_size("ten")


def test_the_process_stops_with_one_clear_message(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "expense_wise.cli", "migrate"],
        env={"PATH": "/usr/bin:/bin", "APP_ENV": "production", "PORT": "x"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert "PORT" in result.stderr and "JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_secrets_manager_fills_missing_secrets(monkeypatch):
    """Against moto's Secrets Manager over real HTTP on 127.0.0.1."""
    import boto3
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=endpoint)
        client.create_secret(Name="expense-wise/prod/JWT_SECRET", SecretString="j" * 40)
        client.create_secret(
            Name="expense-wise/prod/DATABASE_URL", SecretString="postgresql://db/app"
        )
        settings = load_settings(
            {
                "APP_ENV": "production",
                "AWS_REGION": "eu-west-1",
                "AWS_SECRETS_MANAGER_ENDPOINT_URL": endpoint,
                "SECRETS_MANAGER_PREFIX": "expense-wise/prod",
                "REDIS_URL": "redis://explicit:6379/0",  # set values win over the store
            }
        )
    finally:
        server.stop()
    assert settings.auth.jwt_secret == "j" * 40
    assert settings.database.url == "postgresql+psycopg://db/app"
    assert settings.redis.url == "redis://explicit:6379/0"
