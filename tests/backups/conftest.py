"""Fixtures for backup tests: an application database of their own (restores rename it), the
CLI run in-process or as a subprocess, seed data through the API, and S3 from moto's server."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from expense_wise.backup.postgres import Database, list_tables, table_rows
from expense_wise.cli import main
from expense_wise.db.migrate import upgrade
from tests.conftest import (
    _admin_conninfo,
    create_database,
    database_url,
    drop_database,
    expense_body,
    register,
    running_app,
)


def drop_with_siblings(name: str) -> None:
    """Drop a database and every `<name>_...` one a backup operation made beside it."""
    with psycopg.connect(_admin_conninfo(), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "\\_%",)
        ).fetchall()
    for (sibling,) in rows:
        drop_database(sibling)
    drop_database(name)


@pytest.fixture
def app_database() -> Iterator[str]:
    """A migrated database for one test; its URL. Dropped afterwards with whatever
    `_pre_restore_`/`_restore_`/`_verify_` databases appeared beside it."""
    name = create_database("ew_backup")
    url = database_url(name)
    upgrade(url)
    yield url
    drop_with_siblings(name)


@pytest.fixture
def backup_env(base_env: dict[str, str], app_database: str, tmp_path: Path) -> dict[str, str]:
    return {
        **base_env,
        "DATABASE_URL": app_database,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "AWS_S3_BUCKET": "",
        "BACKUP_S3_BUCKET": "",
    }


def run_cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["backup", *args], env=env, catch_exceptions=False)


def run_cli_process(env: dict[str, str], *args: str, **popen: Any) -> subprocess.Popen[str]:
    """The real entry point in its own process group (so a test can kill it with its
    children)."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "expense-wise"), "backup", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )


def database_contents(url: str) -> dict[str, list[tuple[str, ...]]]:
    with Database(url).connect() as connection:
        return {table: table_rows(connection, table) for table in list_tables(connection)}


def png(seed: int) -> bytes:
    image = Image.new("RGB", (64, 48), ((seed * 47) % 256, (seed * 91) % 256, (seed * 13) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def seed_through_api(env: dict[str, str], receipts: int = 2) -> dict[str, Any]:
    """Two users with categories, expenses and receipts, written through the HTTP API."""
    created: dict[str, Any] = {"receipts": []}
    async with running_app(env) as client:
        for user_number in range(2):
            account = await register(client)
            response = await client.post(
                "/api/v1/categories", json={"name": "Food"}, headers=account.headers
            )
            assert response.status_code == 201, response.text
            category_id = response.json()["id"]
            for day in range(1, 6):
                response = await client.post(
                    "/api/v1/expenses",
                    json=expense_body(
                        amount=f"{day}.25",
                        occurred_on=f"2024-05-0{day}",
                        category_id=category_id,
                        tags=["lunch", f"day-{day}"],
                    ),
                    headers=account.headers,
                )
                assert response.status_code == 201, response.text
            for number in range(receipts):
                response = await client.post(
                    "/api/v1/receipts",
                    files={"file": ("r.png", png(user_number * 100 + number), "image/png")},
                    headers=account.headers,
                )
                assert response.status_code == 202, response.text
                created["receipts"].append(response.json()["id"])
    return created


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    saved = {name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
