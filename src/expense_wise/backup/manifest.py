"""The manifest: what a backup holds and how to check it, as JSON beside the archive."""

from __future__ import annotations

import datetime as dt
import secrets

import msgspec

MANIFEST_FORMAT = 1
MANIFEST_SUFFIX = ".json"
ARCHIVE_SUFFIX = ".dump"
RECEIPTS_SUFFIX = ".receipts.tar"


class FileDigest(msgspec.Struct, frozen=True):
    name: str
    size: int
    sha256: str


class ReceiptObject(msgspec.Struct, frozen=True):
    key: str
    version_id: str | None  # None: the object was missing when the backup was taken


class Receipts(msgspec.Struct, frozen=True):
    """Where the receipt files of this backup are: inside it (`archive`, local storage) or
    pinned by version in a versioned S3 bucket (`bucket` and `objects`)."""

    storage: str  # "local" | "s3"
    count: int
    archive: FileDigest | None = None
    bucket: str | None = None
    objects: list[ReceiptObject] = []


class Verification(msgspec.Struct, frozen=True):
    verified_at: dt.datetime
    ok: bool
    seconds: float
    problems: list[str] = []


class Manifest(msgspec.Struct, frozen=True):
    id: str
    created_at: dt.datetime
    database: str
    server_version: str
    revision: str | None
    archive: FileDigest
    tables: dict[str, int]
    receipts: Receipts | None
    seconds: float
    kind: str = "scheduled"  # "scheduled" | "safety" (taken by restore before replacing data)
    verification: Verification | None = None
    format: int = MANIFEST_FORMAT

    @property
    def size(self) -> int:
        return self.archive.size + (
            self.receipts.archive.size if self.receipts and self.receipts.archive else 0
        )

    @property
    def verified(self) -> bool:
        return self.verification is not None and self.verification.ok


def new_backup_id(now: dt.datetime) -> str:
    """`20261126T070600Z-3f9a1c`: sorts by time, unique even for backups in the same second."""
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def encode(manifest: Manifest) -> bytes:
    return msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"


def decode(data: bytes) -> Manifest:
    return msgspec.json.decode(data, type=Manifest)
