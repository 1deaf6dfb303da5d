"""Run a command whose standard output is an archive, and store that output in a target while
hashing it: nothing is staged on local disk."""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from typing import IO

from expense_wise.backup.manifest import FileDigest
from expense_wise.backup.postgres import BackupError
from expense_wise.backup.report import Progress
from expense_wise.backup.targets import Target

CHUNK = 1024 * 1024


class HashingReader:
    """Reads a stream, feeding every byte to SHA-256 and a progress counter."""

    def __init__(self, raw: IO[bytes], progress: Progress | None = None) -> None:
        self.raw = raw
        self.progress = progress
        self.hasher = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.raw.read(size if size > 0 else CHUNK)
        self.hasher.update(chunk)
        self.size += len(chunk)
        if self.progress is not None:
            self.progress.add(len(chunk))
        return chunk


def store_command_output(
    command: list[str],
    target: Target,
    name: str,
    env: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> FileDigest:
    """Stream `command`'s stdout into `target` under `name`. On any failure (the command exits
    non-zero, the upload breaks) the object is removed and BackupError raised."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 - fixed argument lists built by the caller
            command, stdout=subprocess.PIPE, stderr=errors, env=env
        )
        assert process.stdout is not None
        reader = HashingReader(process.stdout, progress)
        try:
            target.upload(name, reader)
        except BaseException:
            process.kill()
            process.wait()
            target.delete(name)
            raise
        finally:
            process.stdout.close()
            if progress is not None:
                progress.finish()
        if process.wait() != 0:
            target.delete(name)
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise BackupError(f"{command[0]} failed (exit {process.returncode}): {message}")
    return FileDigest(name=name, size=reader.size, sha256=reader.hasher.hexdigest())


def file_digest(path: str, progress: Progress | None = None) -> tuple[int, str]:
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress.add(len(chunk))
    if progress is not None:
        progress.finish()
    return size, hasher.hexdigest()
