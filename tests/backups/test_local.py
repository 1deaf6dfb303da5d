"""Backups to a local directory with local receipt storage, against real PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from expense_wise.backup import manifest as mf
from expense_wise.backup.catalog import find_backup, load_manifests
from expense_wise.backup.postgres import Database
from expense_wise.backup.targets import DirectoryTarget
from expense_wise.db.migrate import current_revision, head_revision
from tests.backups.conftest import (
    database_contents,
    run_cli,
    run_cli_process,
    seed_through_api,
)
from tests.conftest import create_database, database_url, drop_database


def receipt_files(env: dict[str, str]) -> dict[str, bytes]:
    root = Path(env["DATA_DIR"]) / "receipts"
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def only_manifest(env: dict[str, str]) -> mf.Manifest:
    manifests = load_manifests(DirectoryTarget(Path(env["BACKUP_DIR"])))
    assert len(manifests) == 1
    return manifests[0]


def siblings(url: str) -> set[str]:
    database = Database(url)
    with database.maintenance.connect(autocommit=True) as connection:
        rows = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (database.name + "\\_%",)
        ).fetchall()
    return {row[0] for row in rows}


def execute(url: str, statement: str) -> None:
    with Database(url).connect(autocommit=True) as connection:
        connection.execute(statement)


async def test_round_trip_restores_every_table_and_receipt_exactly(
    backup_env: dict[str, str],
) -> None:
    env = backup_env
    await seed_through_api(env)
    before = database_contents(env["DATABASE_URL"])
    files_before = receipt_files(env)
    assert len(files_before) == 4
    assert len(before["public.expenses"]) == 10

    created = run_cli(env, "create")
    assert created.exit_code == 0, created.output
    manifest = only_manifest(env)
    assert manifest.tables["public.expenses"] == 10
    assert manifest.tables["public.receipts"] == 4
    assert manifest.revision == head_revision()
    assert manifest.receipts is not None and manifest.receipts.archive is not None
    assert manifest.receipts.count == 4

    verified = run_cli(env, "verify", "--latest")
    assert verified.exit_code == 0, verified.output
    assert only_manifest(env).verified

    # Everything changes after the backup: rows deleted, added and edited, receipt files
    # deleted and overwritten.
    url = env["DATABASE_URL"]
    execute(url, "DELETE FROM expenses WHERE amount < 30000")
    execute(url, "UPDATE users SET name = 'Changed'")
    execute(url, "UPDATE categories SET color = '#123456'")
    receipts_root = Path(env["DATA_DIR"]) / "receipts"
    first, second = sorted(files_before)[:2]
    (receipts_root / first).unlink()
    (receipts_root / second).write_bytes(b"overwritten")
    assert database_contents(url) != before

    # Exactly what the Nomad restore job runs for `nomad job dispatch -meta backup_id=latest`
    # (the id "latest" is the newest scheduled backup, as --latest is).
    restored = run_cli(env, "restore", "latest", "--yes")
    assert restored.exit_code == 0, restored.output + restored.stderr
    assert database_contents(url) == before
    assert receipt_files(env) == files_before
    assert "public.expenses" in restored.output and "total" in restored.output

    # The replaced data is still there for a rollback, and a safety backup was taken.
    (previous,) = (name for name in siblings(url) if "_pre_restore_" in name)
    previous_url = Database(url).with_name(previous).sqlalchemy_url
    assert len(database_contents(previous_url)["public.expenses"]) < 10
    listing = run_cli(env, "list", "--json")
    kinds = sorted(entry["kind"] for entry in json.loads(listing.output))
    assert kinds == ["safety", "scheduled"]
    # --latest still means the newest scheduled backup, not the safety one.
    assert find_backup(DirectoryTarget(Path(env["BACKUP_DIR"])), None, True).id == manifest.id


async def test_stock_pg_restore_loads_the_archive(backup_env: dict[str, str]) -> None:
    env = backup_env
    await seed_through_api(env, receipts=0)
    assert run_cli(env, "create").exit_code == 0
    manifest = only_manifest(env)
    archive = Path(env["BACKUP_DIR"]) / manifest.archive.name
    name = create_database("ew_backup_stock")
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "-d", Database(database_url(name)).tool_url, archive],
            check=True,
        )
        assert database_contents(database_url(name)) == database_contents(env["DATABASE_URL"])
    finally:
        drop_database(name)


async def test_corrupted_archive_is_refused_before_anything_is_touched(
    backup_env: dict[str, str],
) -> None:
    env = backup_env
    await seed_through_api(env, receipts=0)
    assert run_cli(env, "create").exit_code == 0
    manifest = only_manifest(env)
    archive = Path(env["BACKUP_DIR"]) / manifest.archive.name
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    execute(env["DATABASE_URL"], "DELETE FROM expenses WHERE amount < 30000")
    before = database_contents(env["DATABASE_URL"])

    verified = run_cli(env, "verify", manifest.id)
    assert verified.exit_code == 1
    assert "corrupt" in verified.stderr
    restored = run_cli(env, "restore", "--latest", "--yes", "--force")
    assert restored.exit_code == 1
    assert "corrupt" in restored.stderr

    assert database_contents(env["DATABASE_URL"]) == before
    assert siblings(env["DATABASE_URL"]) == set()
    manifests = load_manifests(DirectoryTarget(Path(env["BACKUP_DIR"])))
    assert [item.id for item in manifests] == [manifest.id]  # no safety backup either
    assert manifests[0].verification is not None and not manifests[0].verification.ok


async def test_restore_into_another_database_refuses_data_unless_forced(
    backup_env: dict[str, str],
) -> None:
    env = backup_env
    await seed_through_api(env, receipts=1)
    assert run_cli(env, "create").exit_code == 0
    files_before = receipt_files(env)
    url = (
        Database(env["DATABASE_URL"])
        .with_name(Database(env["DATABASE_URL"]).name + "_copy")
        .sqlalchemy_url
    )

    into_new = run_cli(env, "restore", "--latest", "--yes", "--target-url", url)
    assert into_new.exit_code == 0, into_new.stderr
    assert database_contents(url) == database_contents(env["DATABASE_URL"])

    execute(url, "DELETE FROM expenses WHERE amount < 30000")
    refused = run_cli(env, "restore", "--latest", "--yes", "--target-url", url)
    assert refused.exit_code == 1
    assert "--force" in refused.stderr
    assert len(database_contents(url)["public.expenses"]) < 10

    forced = run_cli(
        env, "restore", "--latest", "--yes", "--force", "--no-safety-backup", "--target-url", url
    )
    assert forced.exit_code == 0, forced.stderr
    assert database_contents(url) == database_contents(env["DATABASE_URL"])
    # The application's receipt files belong to its own database: left alone.
    assert receipt_files(env) == files_before
    assert sorted(path.name for path in Path(env["DATA_DIR"]).iterdir()) == ["receipts"]


def table_digests(url: str) -> dict[str, str]:
    with Database(url).connect() as connection:
        rows = connection.execute(
            "SELECT 'users', md5(string_agg(t::text, ',' ORDER BY t.id)) FROM users t UNION ALL "
            "SELECT 'expenses', md5(string_agg(t::text, ',' ORDER BY t.id)) FROM expenses t"
        ).fetchall()
    return dict(rows)


def seed_many_expenses(url: str, count: int) -> None:
    execute(
        url,
        "WITH u AS (INSERT INTO users (id, email, password_hash, default_currency,"
        " monthly_summary, created_at, updated_at) VALUES (gen_random_uuid(), 'bulk@example.com',"
        " 'x', 'EUR', true, now(), now()) RETURNING id)"
        " INSERT INTO expenses (id, user_id, amount, currency, occurred_on, merchant,"
        " merchant_key, note, tags, created_at, updated_at)"
        " SELECT gen_random_uuid(), u.id, (i % 10000) * 100, 'EUR', date '2024-01-01' + i % 365,"
        " 'Merchant ' || (i % 500), 'merchant ' || (i % 500), repeat('note ', i % 20),"
        f" '[]'::json, now(), now() FROM u, generate_series(1, {count}) AS i",
    )


def pg_restore_running(database_prefix: str) -> bool:
    with psycopg.connect(
        Database(database_prefix).maintenance.conninfo, autocommit=True
    ) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_restore'"
            " AND datname LIKE %s",
            (Database(database_prefix).name + "\\_restore\\_%",),
        ).fetchone()
    return bool(row and row[0])


async def test_restore_killed_half_way_leaves_the_database_intact(
    backup_env: dict[str, str],
) -> None:
    env = backup_env
    url = env["DATABASE_URL"]
    seed_many_expenses(url, 60_000)
    assert run_cli(env, "create").exit_code == 0
    execute(url, "UPDATE users SET name = 'after the backup'")
    before = table_digests(url)

    process = run_cli_process(env, "restore", "--latest", "--yes", "--force", "--no-safety-backup")
    deadline = time.monotonic() + 60
    while not pg_restore_running(url):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "pg_restore never started"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    assert table_digests(url) == before
    with Database(url).connect() as connection:  # accepts connections as before
        row = connection.execute("SELECT name FROM users").fetchone()
    assert row == ("after the backup",)
    # What is left is the half-loaded copy, never under the live name; the fixture drops it.
    assert any("_restore_" in name for name in siblings(url))


async def test_failed_restore_drops_the_new_database_and_keeps_the_current(
    backup_env: dict[str, str],
) -> None:
    env = backup_env
    await seed_through_api(env, receipts=0)
    assert run_cli(env, "create").exit_code == 0
    manifest_path = Path(env["BACKUP_DIR"]) / f"{only_manifest(env).id}.json"
    # A manifest that disagrees with its archive: the restore loads, counts, and must stop.
    document = json.loads(manifest_path.read_text())
    document["tables"]["public.expenses"] += 1
    manifest_path.write_text(json.dumps(document))
    execute(env["DATABASE_URL"], "DELETE FROM expenses WHERE amount < 30000")
    before = database_contents(env["DATABASE_URL"])

    result = run_cli(env, "restore", "--latest", "--yes", "--force", "--no-safety-backup")
    assert result.exit_code == 1
    assert "row counts differ" in result.stderr
    assert database_contents(env["DATABASE_URL"]) == before
    assert siblings(env["DATABASE_URL"]) == set()


def test_create_fails_cleanly_without_a_database(tmp_path: Path) -> None:
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url("ew_backup_does_not_exist"),
        "DATA_DIR": str(tmp_path / "var"),
    }
    result = run_cli(env, "create", "--to", str(tmp_path / "out"))
    assert result.exit_code != 0
    assert "ew_backup_does_not_exist" in result.stderr
    assert list((tmp_path / "out").glob("*")) == []


async def test_restore_wants_yes_off_a_terminal_and_runs_no_migration_at_head(
    backup_env: dict[str, str],
) -> None:
    env = backup_env
    await seed_through_api(env, receipts=0)
    assert run_cli(env, "create").exit_code == 0
    unconfirmed = run_cli(env, "restore", "--latest")
    assert unconfirmed.exit_code == 2
    assert "--yes" in unconfirmed.stderr
    assert siblings(env["DATABASE_URL"]) == set()

    result = run_cli(env, "restore", "--latest", "--yes", "--no-safety-backup")
    assert result.exit_code == 0, result.stderr
    assert "migrated from" not in result.output
    assert current_revision(env["DATABASE_URL"]) == head_revision()
