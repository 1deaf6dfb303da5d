"""`expense-wise preflight` runs before the migration on every deploy path: an init container
of the Kubernetes migrate Job, a prestart task of the Nomad migrate job, and the first step of
the Ansible migrate action (playbooks/migrate.yml), where a problem stops the play before the
schema is touched."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from infra_helpers import OVERLAYS, REPO, hcl_attr, hcl_block, hcl_blocks, load_hcl

CLI = REPO / ".venv" / "bin" / "expense-wise"
PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-tAc"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_migrate_job_checks_first(overlays, find, overlay: str) -> None:
    (job,) = find(overlays[overlay], "Job", "expense-wise-migrate")
    spec = job["spec"]["template"]["spec"]
    assert [c["args"] for c in spec["initContainers"]] == [["preflight"]]
    (check,) = spec["initContainers"]
    (migrate,) = spec["containers"]
    # The same image, configuration and identity as the migration (the app's own).
    for key in ("image", "envFrom", "securityContext"):
        assert check[key] == migrate[key], key


def test_nomad_migrate_job_checks_first() -> None:
    _, job = next(hcl_blocks(load_hcl(REPO / "nomad" / "migrate.nomad.hcl"), "job"))
    _, group = next(hcl_blocks(job, "group"))
    tasks = dict(hcl_blocks(group, "task"))
    assert hcl_attr(hcl_block(tasks["preflight"], "config"), "args") == ["preflight"]
    lifecycle = hcl_block(tasks["preflight"], "lifecycle")
    assert hcl_attr(lifecycle, "hook") == "prestart"
    assert hcl_attr(lifecycle, "sidecar") is False
    assert hcl_attr(hcl_block(tasks["migrate"], "config"), "args") == ["migrate"]
    assert hcl_block(tasks["migrate"], "lifecycle") == {}


@pytest.fixture
def database() -> Iterator[str]:
    name = f"ew_infra_{uuid.uuid4().hex[:12]}"
    subprocess.run([*PSQL, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    yield name
    subprocess.run([*PSQL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], capture_output=True)


def migrate_playbook(database: str, tmp_path: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(PLAYBOOK),
            "-i",
            "inventory/local",
            "playbooks/migrate.yml",
            "-e",
            f"expense_wise_cli_command={CLI}",
        ],
        cwd=REPO,
        env={
            **os.environ,
            "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
            "DATA_DIR": str(tmp_path),
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ansible_migrate_stops_when_the_schema_is_newer_than_the_image(
    database: str, tmp_path: Any
) -> None:
    # A revision this code does not know: a newer release migrated this database.
    create = "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"
    for statement in (create, "INSERT INTO alembic_version VALUES ('0099')"):
        subprocess.run([*PSQL, statement, "-d", database], check=True, capture_output=True)
    result = migrate_playbook(database, tmp_path)
    assert result.returncode != 0
    assert "problem: database: the schema is at revision 0099" in result.stdout
    assert "Upgrade the database schema to head" not in result.stdout
    tables = subprocess.run(
        [*PSQL, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", "-d", database],
        capture_output=True,
        text=True,
        check=True,
    )
    assert tables.stdout.strip() == "1", "the migration ran after a failed check"


def test_ansible_migrate_checks_then_migrates(database: str, tmp_path: Any) -> None:
    result = migrate_playbook(database, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "ok: database: schema empty" in result.stdout
    assert "database at revision" in result.stdout
