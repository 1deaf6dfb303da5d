"""Restoring a backup made at an older schema revision migrates the copy before the swap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from psycopg import sql

from expense_wise.backup import restore as restore_module
from expense_wise.backup.catalog import load_manifests
from expense_wise.backup.postgres import BackupError, Database, list_tables
from expense_wise.backup.report import Reporter
from expense_wise.backup.targets import DirectoryTarget
from expense_wise.db.migrate import alembic_config, current_revision, head_revision
from expense_wise.settings import load_settings
from tests.backups.conftest import run_cli, seed_through_api


def contents_in_columns(url: str, columns: dict[str, list[str]] | None = None) -> Any:
    """Every table's rows as sorted text, over `columns` (default: the columns each table has
    now), and those columns; a later migration's new columns do not count as changed data."""
    with Database(url).connect() as connection:
        if columns is None:
            columns = {}
            for table in list_tables(connection):
                schema, name = table.split(".", 1)
                columns[table] = [
                    row[0]
                    for row in connection.execute(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                        (schema, name),
                    )
                ]
        contents = {
            table: sorted(
                connection.execute(
                    sql.SQL("SELECT ROW({})::text FROM {}").format(
                        sql.SQL(", ").join(sql.Identifier(column) for column in names),
                        sql.Identifier(*table.split(".", 1)),
                    )
                ).fetchall()
            )
            for table, names in columns.items()
        }
    return contents, columns


def test_an_older_known_revision_needs_an_upgrade() -> None:
    assert restore_module.needs_upgrade("0001", "0002", {"0001", "0002"})
    assert restore_module.needs_upgrade(None, "0002", {"0001", "0002"})  # empty database


def test_the_head_revision_needs_none() -> None:
    assert not restore_module.needs_upgrade("0002", "0002", {"0001", "0002"})


def test_a_revision_from_a_newer_release_is_refused() -> None:
    with pytest.raises(BackupError, match="does not know"):
        restore_module.needs_upgrade("0003", "0002", {"0001", "0002"})


def test_this_release_knows_its_own_revisions() -> None:
    assert head_revision() in restore_module.known_revisions()


async def test_a_backup_older_than_head_is_migrated_on_the_copy(
    backup_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database at revision 0001 (one migration behind) is backed up; restoring it with this
    # release runs the real upgrade to head on the restored copy before it is swapped in.
    env = backup_env
    await seed_through_api(env, receipts=0)
    command.downgrade(alembic_config(env["DATABASE_URL"]), "0001")
    assert run_cli(env, "create").exit_code == 0
    before, columns_before = contents_in_columns(env["DATABASE_URL"])
    upgraded: list[str] = []
    real_upgrade = restore_module.upgrade

    def recording_upgrade(url: str) -> None:
        upgraded.append(url)
        real_upgrade(url)

    monkeypatch.setattr(restore_module, "upgrade", recording_upgrade)

    target = DirectoryTarget(Path(env["BACKUP_DIR"]))
    (manifest,) = load_manifests(target)
    assert manifest.revision == "0001"
    result = restore_module.restore_backup(
        load_settings(env),
        target,
        manifest,
        Reporter("backup restore", interactive=False),
        force=True,
        safety_backup=False,
    )
    assert result.migrated_from == "0001"
    assert result.revision == head_revision() != "0001"
    (migrated_url,) = upgraded
    assert "_restore_" in migrated_url  # the copy, before it was swapped in
    assert current_revision(env["DATABASE_URL"]) == head_revision()
    after, _ = contents_in_columns(env["DATABASE_URL"], columns_before)
    assert after.pop("public.alembic_version") == [(f"({head_revision()})",)]
    before.pop("public.alembic_version")
    assert after == before
