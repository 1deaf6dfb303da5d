"""Receipt files in backups: a tar of the local storage directory, or the version of every
object in a versioned S3 bucket pinned in the manifest."""

from __future__ import annotations

import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg

from expense_wise.backup.manifest import ReceiptObject, Receipts
from expense_wise.settings import Settings


def receipt_rows(connection: psycopg.Connection) -> list[tuple[str, str, str | None]]:
    """(id, storage_key, storage_version) of every receipt, or none before the table exists."""
    exists = connection.execute("SELECT to_regclass('public.receipts')").fetchone()
    if exists is None or exists[0] is None:
        return []
    rows = connection.execute(
        "SELECT id::text, storage_key, storage_version FROM public.receipts ORDER BY id"
    ).fetchall()
    return [(str(row[0]), str(row[1]), row[2]) for row in rows]


def tar_members(path: Path) -> set[str]:
    with tarfile.open(path, mode="r:") as archive:
        return {
            member.name.removeprefix("./") for member in archive.getmembers() if member.isfile()
        }


def _key_prefixes(keys: Iterable[str]) -> set[str]:
    return {key.split("/", 1)[0] + "/" if "/" in key else key for key in keys}


class KeyVersions:
    """The versions of one key that still exist, and which of them is current (None when the
    newest entry is a delete marker)."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.versions: set[str] = set()


def object_versions(client: Any, bucket: str, keys: Iterable[str]) -> dict[str, KeyVersions]:
    """Versions of the objects under the keys' top-level prefixes (one listing, not a request
    per receipt)."""
    found: dict[str, KeyVersions] = {}
    paginator = client.get_paginator("list_object_versions")
    for prefix in sorted(_key_prefixes(keys)):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Versions", []):
                entry = found.setdefault(item["Key"], KeyVersions())
                entry.versions.add(item["VersionId"])
                if item.get("IsLatest"):
                    entry.current = item["VersionId"]
    return found


def pin_objects(
    client: Any, bucket: str, rows: list[tuple[str, str, str | None]]
) -> list[ReceiptObject]:
    """The version each receipt row refers to now: its recorded version where that still
    exists, else (rows written before versioning) the key's current version; None where
    neither exists."""
    versions = object_versions(client, bucket, (key for _, key, _ in rows))
    pinned: list[ReceiptObject] = []
    for _, key, recorded in rows:
        entry = versions.get(key, KeyVersions())
        if recorded is not None:
            version = recorded if recorded in entry.versions else None
        else:
            version = entry.current
        pinned.append(ReceiptObject(key=key, version_id=version))
    return pinned


def bucket_is_versioned(client: Any, bucket: str) -> bool:
    return bool(client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled")


def pinned_bucket(settings: Settings, receipts: Receipts) -> str:
    """The bucket whose pinned versions a restore or verify reads: the application's own
    receipts bucket (AWS_S3_BUCKET), else the one the backup recorded. After a failover the
    app's bucket is the replica of the recorded one, unreachable with its region; S3
    replication keeps version ids, so the pinned versions are found there."""
    bucket = settings.storage.s3_bucket or receipts.bucket
    assert bucket is not None, "an S3 receipts manifest records its bucket"
    return bucket
