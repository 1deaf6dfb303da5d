"""Where backups are kept: a prefix of an S3 bucket, or a directory on the host.

Both keep unfinished uploads out of sight under their final name: S3 only shows an object once
its multipart upload completes, and the directory target writes `<name>.partial` and renames.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from expense_wise.backup.manifest import UnsafeName, plain_name
from expense_wise.backup.postgres import BackupError
from expense_wise.settings import Settings

PART_SIZE = 8 * 1024 * 1024
PARTIAL_SUFFIX = ".partial"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Target(Protocol):
    description: str

    def names(self) -> list[str]: ...

    def upload(self, name: str, stream: Readable) -> None:
        """Store everything `stream` yields under `name`; nothing appears under it on failure."""
        ...

    def fetch(self, name: str) -> Any:
        """A context manager giving a local file with the object's bytes."""
        ...

    def read_bytes(self, name: str) -> bytes: ...

    def write_bytes(self, name: str, data: bytes) -> None: ...

    def delete(self, name: str) -> None: ...


def _checked(name: str) -> str:
    """Every name reaching a target is a plain file name (a second line behind the manifest
    check: no caller can reach outside the directory or prefix)."""
    try:
        return plain_name(name)
    except UnsafeName as error:
        raise BackupError(f"refusing backup file name: {error}") from error


class DirectoryTarget:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(path.name for path in self.root.iterdir() if path.is_file())

    def upload(self, name: str, stream: Readable) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / _checked(name)
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        try:
            with partial.open("wb") as handle:
                shutil.copyfileobj(stream, handle, 1024 * 1024)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)

    @contextmanager
    def fetch(self, name: str) -> Iterator[Path]:
        path = self.root / _checked(name)
        if not path.is_file():
            raise BackupError(f"{path} does not exist")
        yield path

    def read_bytes(self, name: str) -> bytes:
        try:
            return (self.root / _checked(name)).read_bytes()
        except FileNotFoundError as error:
            raise BackupError(f"{self.root / name} does not exist") from error

    def write_bytes(self, name: str, data: bytes) -> None:
        self.upload(name, _BytesStream(data))

    def delete(self, name: str) -> None:
        (self.root / _checked(name)).unlink(missing_ok=True)


class _BytesStream:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._offset = 0

    def read(self, size: int = -1, /) -> bytes:
        end = len(self._data) if size < 0 else self._offset + size
        chunk = bytes(self._data[self._offset : end])
        self._offset += len(chunk)
        return chunk


class S3Target:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.description = f"s3://{bucket}/{self.prefix}"

    def names(self) -> list[str]:
        names: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"):
            names.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return sorted(names)

    def upload(self, name: str, stream: Readable) -> None:
        from boto3.s3.transfer import TransferConfig

        # A pipe cannot be rewound, so every upload is multipart with fixed parts; boto3 sends
        # parts from worker threads while we keep reading, and aborts the upload on failure.
        self.client.upload_fileobj(
            stream,
            self.bucket,
            self.prefix + _checked(name),
            ExtraArgs={"ServerSideEncryption": "AES256"},
            Config=TransferConfig(
                multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=4
            ),
        )

    @contextmanager
    def fetch(self, name: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="expense-wise-backup-") as directory:
            path = Path(directory) / _checked(name)
            try:
                self.client.download_file(self.bucket, self.prefix + name, str(path))
            except Exception as error:
                raise BackupError(
                    f"could not download {self.description}{name}: {error}"
                ) from error
            yield path

    def read_bytes(self, name: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + _checked(name))
        except self.client.exceptions.NoSuchKey as error:
            raise BackupError(f"{self.description}{name} does not exist") from error
        data: bytes = response["Body"].read()
        return data

    def write_bytes(self, name: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.prefix + _checked(name),
            Body=data,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + _checked(name))


def s3_client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        region_name=settings.storage.aws_region,
        endpoint_url=settings.storage.aws_endpoint_url,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def resolve_target(settings: Settings, directory: Path | None) -> Target:
    """`--to/--from DIR` wins; then the backup bucket; then BACKUP_DIR (default var/backups)."""
    if directory is not None:
        return DirectoryTarget(directory)
    if settings.backup.s3_bucket:
        return S3Target(s3_client(settings), settings.backup.s3_bucket, settings.backup.s3_prefix)
    return DirectoryTarget(settings.backup.local_dir)
