"""Shared fixtures: a real PostgreSQL database and a real Redis for the whole run, emptied
between tests, and an app client in front of them.

Environment: TEST_DATABASE_URL (server URL without a database name is fine; default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and TEST_REDIS_URL (default
redis://127.0.0.1:6379). Each run creates its own scratch database and uses its own Redis key
prefix, so parallel runs on one machine do not collide.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_sync
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from expense_wise.app import create_app
from expense_wise.db import models as m
from expense_wise.db.migrate import upgrade
from expense_wise.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
RECEIPTS_DIR = Path(
    os.environ.get("RECEIPTS_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "receipts")
)
PASSWORD = "Sturdy-Password-42"

_server_url = make_url(
    os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
)
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
# Redis database per run (by process id), so two runs' cron jobs and queues never meet.
REDIS_DB = 1 + os.getpid() % 15
REDIS_URL = f"{REDIS_BASE_URL}/{REDIS_DB}"


def _admin_conninfo() -> str:
    url = _server_url.set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def create_database(prefix: str = "ew_test") -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(_admin_conninfo(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(name: str) -> str:
    return _server_url.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A migrated scratch PostgreSQL database for the whole run; its URL."""
    name = create_database()
    url = database_url(name)
    upgrade(url)
    yield url
    drop_database(name)


def truncate_all(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in m.Base.metadata.sorted_tables)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {tables} CASCADE")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"ew-test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def base_env(pg_database: str, redis_prefix: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment of the production setup (PostgreSQL + Redis) for one test; the database is
    emptied afterwards."""
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": pg_database,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "DATA_DIR": str(tmp_path / "var"),
        "JWT_SECRET": "test-secret-" + secrets.token_hex(16),
        "RATE_LIMIT_MAX": "100000",
        "AUTH_RATE_LIMIT": "1000",
        "LOG_LEVEL": "WARNING",
    }
    yield env
    truncate_all(pg_database)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """The embedded default: SQLite under a temporary DATA_DIR, jobs in-process."""
    return {
        "APP_ENV": "test",
        "DATA_DIR": str(tmp_path / "var"),
        "RATE_LIMIT_MAX": "100000",
        "AUTH_RATE_LIMIT": "1000",
        "LOG_LEVEL": "WARNING",
    }


AppClient = AsyncTestClient  # type alias for annotations in tests


@asynccontextmanager
async def running_app(env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    settings: Settings = load_settings(env)
    if settings.database.is_sqlite:
        upgrade(settings.database.url)
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
async def client(base_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    async with running_app(base_env) as test_client:
        yield test_client


@pytest.fixture
async def sqlite_client(sqlite_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    async with running_app(sqlite_env) as test_client:
        yield test_client


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(
    client: AsyncTestClient[Any], email: str | None = None, password: str = PASSWORD
) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "name": "Test"}
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Account(user_id, email, password, tokens["access_token"], tokens["refresh_token"])


@pytest.fixture
def make_account(client: AsyncTestClient[Any]) -> Callable[..., Any]:
    async def make(email: str | None = None) -> Account:
        return await register(client, email)

    return make


@pytest.fixture
async def alice(client: AsyncTestClient[Any]) -> Account:
    return await register(client)


@pytest.fixture
async def bob(client: AsyncTestClient[Any]) -> Account:
    return await register(client)


def expense_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": "12.50",
        "currency": "EUR",
        "occurred_on": "2024-05-01",
        "merchant": "Corner Cafe",
    }
    body.update(overrides)
    return body
