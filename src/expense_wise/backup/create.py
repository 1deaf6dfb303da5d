"""`backup create`: one consistent snapshot of the database (and receipts) into a target."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

from psycopg import IsolationLevel

from expense_wise.backup import manifest as mf
from expense_wise.backup.postgres import (
    BackupError,
    Database,
    alembic_revision,
    count_rows,
    server_version,
)
from expense_wise.backup.receipts import bucket_is_versioned, pin_objects, receipt_rows
from expense_wise.backup.report import Reporter, human_bytes
from expense_wise.backup.streaming import store_command_output
from expense_wise.backup.targets import Target, s3_client
from expense_wise.settings import Settings


def create_backup(
    settings: Settings,
    target: Target,
    reporter: Reporter,
    database: Database | None = None,
    kind: str = "scheduled",
) -> mf.Manifest:
    database = database or Database(settings.database.url)
    started = time.monotonic()
    created_at = dt.datetime.now(dt.UTC)
    backup_id = mf.new_backup_id(created_at)
    archive_name = backup_id + mf.ARCHIVE_SUFFIX
    stored: list[str] = []
    reporter.note(f"backup {backup_id} of database {database.name} to {target.description}")
    try:
        with database.connect() as connection:
            # Row counts, receipt list and pg_dump all read one exported snapshot, so the
            # manifest describes exactly the archive; the transaction stays open until
            # pg_dump has finished with the snapshot.
            connection.isolation_level = IsolationLevel.REPEATABLE_READ
            connection.read_only = True
            with reporter.step("snapshot") as result:
                row = connection.execute("SELECT pg_export_snapshot()").fetchone()
                assert row is not None
                snapshot = str(row[0])
                version = server_version(connection)
                revision = alembic_revision(connection)
                result.update(revision=revision)

            with reporter.step("dump", archive=archive_name) as result:
                command = [
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--no-password",
                    f"--dbname={database.tool_url}",
                ]
                with ThreadPoolExecutor(max_workers=1) as pool:
                    dumping = pool.submit(
                        store_command_output,
                        command,
                        target,
                        archive_name,
                        env=database.tool_env(),
                        progress=reporter.progress(),
                    )
                    # Counted while pg_dump runs (it is busy compressing on one core): the
                    # same snapshot, so exactly the rows in the archive.
                    try:
                        tables = count_rows(connection)
                        receipts = receipt_rows(connection)
                    except BaseException:
                        dumping.cancel()
                        with suppress(Exception):
                            dumping.result()
                        target.delete(archive_name)
                        raise
                    archive = dumping.result()
                stored.append(archive_name)
                result.update(
                    size=human_bytes(archive.size),
                    sha256=archive.sha256[:12],
                    tables=len(tables),
                    rows=sum(tables.values()),
                )

            receipts_part = _backup_receipts(settings, target, reporter, backup_id, receipts)
            if receipts_part is not None and receipts_part.archive is not None:
                stored.append(receipts_part.archive.name)
            connection.rollback()

        manifest = mf.Manifest(
            id=backup_id,
            created_at=created_at,
            database=database.name,
            server_version=version,
            revision=revision,
            archive=archive,
            tables=tables,
            receipts=receipts_part,
            seconds=round(time.monotonic() - started, 3),
            kind=kind,
        )
        with reporter.step("manifest"):
            # Last, so a backup only looks complete once everything it names is stored.
            target.write_bytes(backup_id + mf.MANIFEST_SUFFIX, mf.encode(manifest))
    except BaseException:
        for name in stored:
            target.delete(name)
        raise
    return manifest


def _backup_receipts(
    settings: Settings,
    target: Target,
    reporter: Reporter,
    backup_id: str,
    rows: list[tuple[str, str, str | None]],
) -> mf.Receipts | None:
    storage = settings.storage
    if storage.s3_bucket:
        with reporter.step("receipts: pin object versions", bucket=storage.s3_bucket) as result:
            client = s3_client(settings)
            if not bucket_is_versioned(client, storage.s3_bucket):
                reporter.warn(
                    f"bucket {storage.s3_bucket} has no versioning: a restore cannot bring "
                    "back receipts deleted or overwritten after this backup"
                )
            objects = pin_objects(client, storage.s3_bucket, rows)
            missing = sum(1 for item in objects if item.version_id is None)
            result.update(objects=len(objects), missing=missing)
            if missing:
                reporter.warn(f"{missing} receipt rows have no object in the bucket")
        return mf.Receipts(storage="s3", count=len(rows), bucket=storage.s3_bucket, objects=objects)

    root = storage.receipts_dir
    if not root.is_dir() and not rows:
        return None
    tar = shutil.which("tar")
    if tar is None:
        raise BackupError("tar is not installed; it is needed to back up local receipts")
    root.mkdir(parents=True, exist_ok=True)
    name = backup_id + mf.RECEIPTS_SUFFIX
    with reporter.step("receipts: archive directory", directory=str(root)) as result:
        absent = [key for _, key, _ in rows if not (root / key).is_file()]
        digest = store_command_output(
            [tar, "--create", "--file=-", f"--directory={root}", "."],
            target,
            name,
            progress=reporter.progress(),
        )
        result.update(files=len(rows) - len(absent), size=human_bytes(digest.size))
        if absent:
            reporter.warn(f"{len(absent)} receipt rows have no file in {root}")
    return mf.Receipts(storage="local", count=len(rows), archive=digest)
