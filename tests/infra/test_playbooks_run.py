"""Playbooks run for real: migrate against a scratch database, refusals of incomplete requests."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from infra_helpers import REPO

CLI = REPO / ".venv" / "bin" / "expense-wise"
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]


def _ansible_playbook() -> str | None:
    local = REPO / ".venv" / "bin" / "ansible-playbook"
    return str(local) if local.exists() else shutil.which("ansible-playbook")


def _psql(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", *PG, "-v", "ON_ERROR_STOP=1", "-tAc", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.fixture
def scratch_database() -> Iterator[str]:
    if not CLI.exists():
        pytest.skip(f"{CLI.relative_to(REPO)} is missing (the application is not installed)")
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    if _psql("SELECT 1").returncode != 0:
        pytest.skip("no PostgreSQL with trust auth for postgres on 127.0.0.1:5432")
    name = f"ew_infra_{uuid.uuid4().hex[:12]}"
    created = _psql(f'CREATE DATABASE "{name}"')
    assert created.returncode == 0, created.stderr
    try:
        yield name
    finally:
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_playbook_upgrades_a_fresh_database(scratch_database: str) -> None:
    playbook = _ansible_playbook()
    if playbook is None:
        pytest.skip("ansible-playbook is not installed (uv sync --group infra)")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{scratch_database}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
    }
    result = subprocess.run(
        [
            playbook,
            "-i",
            "inventory/local",
            "playbooks/migrate.yml",
            "-e",
            f"expense_wise_cli_command={CLI}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    revision = subprocess.run(
        ["psql", *PG, "-d", scratch_database, "-tAc", "SELECT version_num FROM alembic_version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert revision.returncode == 0 and revision.stdout.strip(), revision.stderr


@pytest.mark.parametrize(
    ("playbook_args", "hint"),
    [
        (["playbooks/restore.yml", "-e", "backup_id=latest"], "confirm_restore=yes"),
        (["playbooks/deploy.yml", "-e", "deploy_scheduler=nomad"], "image_tag=<tag>"),
        (["playbooks/deploy.yml", "-e", "image_tag=abc"], "deploy_scheduler=nomad|kubernetes"),
    ],
)
def test_playbooks_refuse_incomplete_requests(playbook_args: list[str], hint: str) -> None:
    playbook = _ansible_playbook()
    if playbook is None:
        pytest.skip("ansible-playbook is not installed (uv sync --group infra)")
    result = subprocess.run(
        [playbook, "-i", "inventory/local", *playbook_args],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert hint in result.stdout
