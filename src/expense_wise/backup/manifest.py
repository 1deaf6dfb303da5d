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


class UnsafeName(ValueError):
    """A name in a manifest that is not a plain file name."""


def plain_name(name: str) -> str:
    """`name` when it is a plain file name, else UnsafeName. Manifests are read from storage
    that others can write to, so a name like `../victim` or `/etc/passwd` must never become
    a path outside the backup target."""
    if not name or name in {".", ".."} or any(char in name for char in "/\\\0"):
        raise UnsafeName(f"{name!r} is not a plain file name")
    return name


def check_names(manifest: Manifest, file_name: str) -> None:
    """Refuse a manifest naming anything but plain files beside it, or stored under another
    name than its id (prune deletes `<id>.json`)."""
    named = {"id": manifest.id, "archive.name": manifest.archive.name}
    if manifest.receipts is not None and manifest.receipts.archive is not None:
        named["receipts.archive.name"] = manifest.receipts.archive.name
    for field, name in named.items():
        try:
            plain_name(name)
        except UnsafeName as error:
            raise UnsafeName(f"{field} {error}") from None
    if file_name != manifest.id + MANIFEST_SUFFIX:
        raise UnsafeName(f"id {manifest.id!r} does not match the file name {file_name!r}")


def new_backup_id(now: dt.datetime) -> str:
    """`20261126T070600Z-3f9a1c`: sorts by time, unique even for backups in the same second."""
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def encode(manifest: Manifest) -> bytes:
    return msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"


def decode(data: bytes) -> Manifest:
    return msgspec.json.decode(data, type=Manifest)
