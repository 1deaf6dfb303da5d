"""`backup restore`: load a backup into a new database and only then swap it in.

Until the swap, the current database is not touched: a restore that fails, or is killed,
leaves it as it was (plus an orphaned `<name>_restore_<stamp>` database to drop). The swap is
two renames; the replaced database stays on the server as `<name>_pre_restore_<stamp>` for a
rollback.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tarfile
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from expense_wise.backup import manifest as mf
from expense_wise.backup.catalog import check_digest
from expense_wise.backup.create import create_backup
from expense_wise.backup.postgres import (
    BackupError,
    Database,
    alembic_revision,
    count_rows,
    derived_name,
    has_application_rows,
    pg_restore,
)
from expense_wise.backup.receipts import object_versions, pinned_bucket, receipt_rows
from expense_wise.backup.report import Reporter
from expense_wise.backup.targets import Target, s3_client
from expense_wise.backup.verify import compare_counts
from expense_wise.settings import Settings

RENAME_ATTEMPTS = 10


@dataclass
class RestoreResult:
    backup_id: str
    database: str
    tables: dict[str, int]
    seconds: float
    timings: dict[str, float]
    previous_database: str | None = None
    safety_backup: str | None = None
    migrated_from: str | None = None
    revision: str | None = None
    receipts: dict[str, int] = field(default_factory=dict)
    previous_receipts_dir: str | None = None


def head_revision() -> str:
    from expense_wise.db.migrate import head_revision as alembic_head

    return alembic_head()


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from expense_wise.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {revision.revision for revision in script.walk_revisions()}


def upgrade(database_url: str) -> None:
    from expense_wise.db.migrate import upgrade as alembic_upgrade

    alembic_upgrade(database_url)


def needs_upgrade(backup_revision: str | None, head: str, known: Collection[str]) -> bool:
    """True when the backup predates this release's schema and migrations must run on the
    restored copy; refuse a backup from a newer release (this code cannot run its schema)."""
    if backup_revision == head:
        return False
    if backup_revision is None or backup_revision in known:
        return True
    raise BackupError(
        f"the backup is at revision {backup_revision}, which this release does not know: "
        "restore it with the release that made it"
    )


def restore_backup(
    settings: Settings,
    target: Target,
    manifest: mf.Manifest,
    reporter: Reporter,
    *,
    target_url: str | None = None,
    force: bool = False,
    safety_backup: bool = True,
    jobs: int = 2,
) -> RestoreResult:
    current = Database(target_url or settings.database.url)
    # Replacing the application's own database is what a restore is for (the operator
    # confirmed it; a safety backup and the renamed old database protect it). Another
    # database named with --target-url is only overwritten when it is empty, or with --force.
    other_database = (
        settings.database.is_sqlite or current.tool_url != Database(settings.database.url).tool_url
    )
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}"
    result = RestoreResult(
        backup_id=manifest.id, database=current.name, tables={}, seconds=0, timings={}
    )
    with ExitStack() as files:
        # Loading Alembic and the migration scripts takes about a second from a cold start:
        # it happens while the checks and pg_restore run, and is awaited before the swap.
        pool = files.enter_context(ThreadPoolExecutor(max_workers=1))
        migrate_decision = pool.submit(
            lambda: needs_upgrade(manifest.revision, head_revision(), known_revisions())
        )

        with reporter.step("checksum", archive=manifest.archive.name):
            archive = files.enter_context(target.fetch(manifest.archive.name))
            check_digest(str(archive), manifest.archive, reporter)
            receipts_tar: Path | None = None
            if manifest.receipts is not None and manifest.receipts.archive is not None:
                receipts_tar = files.enter_context(target.fetch(manifest.receipts.archive.name))
                check_digest(str(receipts_tar), manifest.receipts.archive, reporter)

        with reporter.step("check the target database", database=current.name) as step:
            occupied = has_application_rows(current)
            step.update(holds_data=occupied)
            if occupied and other_database and not force:
                raise BackupError(
                    f"database {current.name} holds data; pass --force to replace it (it is "
                    f"kept on the server as {current.name}_pre_restore_<timestamp>)"
                )

        if occupied and safety_backup:
            with reporter.step("safety backup of the current database") as step:
                inner = Reporter(
                    f"{reporter.operation}: safety backup", reporter.interactive, reporter.out
                )
                safety = create_backup(settings, target, inner, database=current, kind="safety")
                result.safety_backup = safety.id
                step.update(backup=safety.id)

        staging_dir: Path | None = None
        fresh = current.create_sibling(derived_name(current.name, f"_restore_{stamp}"))
        try:
            with reporter.step("restore into a new database", database=fresh.name) as step:
                pg_restore(str(archive), fresh, jobs)
                with fresh.connect() as connection:
                    result.tables = count_rows(connection)
                problems = compare_counts(manifest.tables, result.tables)
                if problems:
                    raise BackupError("restored row counts differ: " + "; ".join(problems))
                step.update(tables=len(result.tables), rows=sum(result.tables.values()))

            with reporter.step("migrations") as step:
                migrate = migrate_decision.result()
                if migrate:
                    result.migrated_from = manifest.revision or "empty"
                    upgrade(fresh.sqlalchemy_url)
                with fresh.connect() as connection:
                    result.revision = alembic_revision(connection)
                step.update(
                    ran=migrate, revision=result.revision, backup_revision=manifest.revision
                )

            if manifest.receipts is not None and other_database:
                # The receipt store belongs to the application's database: a copy restored
                # elsewhere (to inspect old data) must not change it.
                reporter.note("receipts left as they are: the target is not the app's database")
            elif manifest.receipts is not None and manifest.receipts.storage == "s3":
                bucket = pinned_bucket(settings, manifest.receipts)
                if bucket != manifest.receipts.bucket:
                    reporter.note(
                        f"receipts of {manifest.receipts.bucket} are read from {bucket}"
                        " (AWS_S3_BUCKET, its replica)"
                    )
                with reporter.step("receipts: pin object versions", bucket=bucket) as step:
                    result.receipts = _pin_receipt_versions(
                        settings, bucket, manifest.receipts, fresh
                    )
                    step.update(**result.receipts)
            elif receipts_tar is not None:
                with reporter.step("receipts: unpack") as step:
                    staging_dir = _unpack_receipts(receipts_tar, settings, stamp)
                    result.receipts = {
                        "files": sum(1 for p in staging_dir.rglob("*") if p.is_file())
                    }
                    step.update(**result.receipts)

            with reporter.step("swap in the restored database") as step:
                result.previous_database = swap_databases(current, fresh, stamp)
                step.update(previous=result.previous_database)
        except BaseException:
            fresh.drop()
            if staging_dir is not None:
                shutil.rmtree(staging_dir, ignore_errors=True)
            raise

    if staging_dir is not None:
        with reporter.step("swap in the restored receipts"):
            result.previous_receipts_dir = _swap_directories(
                settings.storage.receipts_dir, staging_dir, stamp
            )
    result.seconds = reporter.elapsed
    result.timings = dict(reporter.timings)
    return result


def swap_databases(current: Database, fresh: Database, stamp: str) -> str | None:
    """Rename `current` aside (after closing its connections) and `fresh` into its place.
    Returns the name the old database now has, or None when there was none."""
    previous: str | None = None
    with current.maintenance.connect(autocommit=True) as connection:
        if current.exists():
            previous = derived_name(current.name, f"_pre_restore_{stamp}")
            _rename_closing_connections(connection, current.name, previous)
        try:
            _rename(connection, fresh.name, current.name)
        except BaseException:
            if previous is not None:
                _rename(connection, previous, current.name)
            raise
    return previous


def _rename(connection: psycopg.Connection, old: str, new: str) -> None:
    connection.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
    )


def _allow_connections(connection: psycopg.Connection, name: str, allow: bool) -> None:
    connection.execute(
        sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.Literal(allow)
        )
    )


def _rename_closing_connections(connection: psycopg.Connection, old: str, new: str) -> None:
    # New connections are refused first, so the app's pools cannot reconnect between the
    # terminations and the rename.
    _allow_connections(connection, old, False)
    try:
        for attempt in range(RENAME_ATTEMPTS):
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (old,),
            )
            try:
                _rename(connection, old, new)
                break
            except psycopg.errors.ObjectInUse:
                if attempt == RENAME_ATTEMPTS - 1:
                    raise
                time.sleep(0.2)
    except BaseException:
        _allow_connections(connection, old, True)
        raise
    _allow_connections(connection, new, True)


def _pin_receipt_versions(
    settings: Settings, bucket: str, receipts: mf.Receipts, database: Database
) -> dict[str, int]:
    """Point every restored receipt row at the version pinned in the manifest, and make that
    version current again in `bucket` where the object was deleted or overwritten since the
    backup."""
    client: Any = s3_client(settings)
    pinned = {item.key: item.version_id for item in receipts.objects}
    counts = {"pinned": 0, "copied_back": 0, "missing": 0}
    with database.connect() as connection:
        rows = receipt_rows(connection)
        current = object_versions(client, bucket, (key for _, key, _ in rows))
        for receipt_id, key, _ in rows:
            version = pinned.get(key)
            if version is None:
                counts["missing"] += 1
                continue
            entry = current.get(key)
            if entry is None or version not in entry.versions:
                counts["missing"] += 1
                continue
            if entry.current != version:
                client.copy_object(
                    Bucket=bucket,
                    Key=key,
                    CopySource={"Bucket": bucket, "Key": key, "VersionId": version},
                    ServerSideEncryption="AES256",
                )
                counts["copied_back"] += 1
            connection.execute(
                "UPDATE public.receipts SET storage_version = %s WHERE id = %s::uuid",
                (version, receipt_id),
            )
            counts["pinned"] += 1
        connection.commit()
    return counts


def _unpack_receipts(archive: Path, settings: Settings, stamp: str) -> Path:
    root = settings.storage.receipts_dir
    staging = root.with_name(f".{root.name}.restore_{stamp}")
    staging.mkdir(parents=True)
    with tarfile.open(archive, mode="r:") as tar:
        _extract_safely(tar, staging)
    return staging


def _extract_safely(tar: tarfile.TarFile, destination: Path) -> None:
    """Extract only plain files and directories inside `destination`. Python's "data" filter
    does this where it exists (3.11.4+); Debian bookworm's 3.11.2 predates it."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(destination, filter="data")
        return
    root = destination.resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
            raise ValueError(f"refusing unsafe receipt archive member {member.name!r}")
    tar.extractall(destination)  # noqa: S202 - every member was checked above


def _swap_directories(current: Path, replacement: Path, stamp: str) -> str | None:
    previous = current.with_name(f"{current.name}.pre_restore_{stamp}")
    if current.exists():
        current.rename(previous)
        replacement.rename(current)
        return str(previous)
    replacement.rename(current)
    return None
