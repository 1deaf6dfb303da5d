"""`backup verify`: prove a backup restores — checksum, a full restore into a scratch
database, row counts against the manifest, and the receipt files it points at."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import msgspec

from expense_wise.backup import manifest as mf
from expense_wise.backup.catalog import check_digest, save_manifest
from expense_wise.backup.postgres import (
    BackupError,
    Database,
    count_rows,
    identifier_stamp,
    pg_restore,
    scratch_database,
)
from expense_wise.backup.receipts import pinned_bucket, receipt_rows, tar_members
from expense_wise.backup.report import Reporter
from expense_wise.backup.targets import Target, s3_client
from expense_wise.settings import Settings

MAX_LISTED_PROBLEMS = 20


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    problems = []
    for table in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(table), actual.get(table)
        if want != got:
            problems.append(f"table {table}: {got} rows restored, manifest says {want}")
    return problems


def verify_backup(
    settings: Settings, target: Target, manifest: mf.Manifest, reporter: Reporter, jobs: int
) -> mf.Verification:
    started = time.monotonic()
    problems: list[str] = []
    server = Database(settings.database.url)
    rows: list[tuple[str, str, str | None]] = []
    try:
        with target.fetch(manifest.archive.name) as path:
            with reporter.step("checksum", archive=manifest.archive.name):
                check_digest(str(path), manifest.archive, reporter)
            stamp = identifier_stamp(manifest.id)
            with (
                reporter.step("restore into a scratch database") as result,
                scratch_database(server, "verify", stamp) as scratch,
            ):
                pg_restore(str(path), scratch, jobs)
                with scratch.connect() as connection:
                    counts = count_rows(connection)
                    rows = receipt_rows(connection)
                problems += compare_counts(manifest.tables, counts)
                result.update(tables=len(counts), rows=sum(counts.values()))
        if manifest.receipts is not None:
            with reporter.step("receipts") as result:
                missing = _missing_receipts(settings, target, manifest.receipts, rows, reporter)
                result.update(receipts=len(rows), missing=len(missing))
            problems += missing
    except BackupError as error:
        problems.append(str(error))

    verification = mf.Verification(
        verified_at=dt.datetime.now(dt.UTC),
        ok=not problems,
        seconds=round(time.monotonic() - started, 3),
        problems=problems[:MAX_LISTED_PROBLEMS],
    )
    save_manifest(target, msgspec.structs.replace(manifest, verification=verification))
    return verification


def _missing_receipts(
    settings: Settings,
    target: Target,
    receipts: mf.Receipts,
    rows: list[tuple[str, str, str | None]],
    reporter: Reporter,
) -> list[str]:
    """One problem per receipt row whose file this backup cannot bring back."""
    if receipts.storage == "local":
        assert receipts.archive is not None
        with target.fetch(receipts.archive.name) as path:
            check_digest(str(path), receipts.archive, reporter)
            present = tar_members(Path(path))
        return [
            f"receipt {receipt_id}: file {key} is not in the backup"
            for receipt_id, key, _ in rows
            if key not in present
        ]

    bucket = pinned_bucket(settings, receipts)
    client: Any = s3_client(settings)
    pinned = {item.key: item.version_id for item in receipts.objects}
    problems = []
    for receipt_id, key, _ in rows:
        version = pinned.get(key)
        if version is None:
            problems.append(f"receipt {receipt_id}: object {key} was missing at backup time")
            continue
        try:
            client.head_object(Bucket=bucket, Key=key, VersionId=version)
        except client.exceptions.ClientError:
            problems.append(f"receipt {receipt_id}: object {key} version {version} is gone")
    return problems
