"""Finding backups in a target: manifests, newest first."""

from __future__ import annotations

import msgspec

from expense_wise.backup import manifest as mf
from expense_wise.backup.postgres import BackupError
from expense_wise.backup.report import Reporter
from expense_wise.backup.streaming import file_digest
from expense_wise.backup.targets import Target


def load_manifests(target: Target) -> list[mf.Manifest]:
    manifests: list[mf.Manifest] = []
    for name in target.names():
        if not name.endswith(mf.MANIFEST_SUFFIX):
            continue
        try:
            manifest = mf.decode(target.read_bytes(name))
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue  # not one of ours; never fatal for listing
        try:
            mf.check_names(manifest, name)
        except mf.UnsafeName as error:
            # Someone wrote this manifest to reach outside the target (prune would delete,
            # restore and verify would read, what it names): stop before touching anything.
            raise BackupError(
                f"refusing manifest {name} in {target.description}: {error}; move it away"
            ) from error
        manifests.append(manifest)
    return sorted(manifests, key=lambda item: (item.created_at, item.id), reverse=True)


LATEST = "latest"


def find_backup(target: Target, backup_id: str | None, latest: bool) -> mf.Manifest:
    """The backup named `backup_id`, or the newest with `latest` (or the id "latest", which
    schedulers pass where they cannot add a flag, e.g. Nomad dispatch meta)."""
    if backup_id == LATEST:
        backup_id, latest = None, True
    elif bool(backup_id) == latest:
        raise BackupError("name a backup ID or pass --latest (not both)")
    manifests = load_manifests(target)
    if latest:
        if not manifests:
            raise BackupError(f"no backups in {target.description}")
        # Safety backups (taken by a restore of the data it replaced) are not what "latest"
        # means to someone restoring or verifying; they are restored by id.
        scheduled = [item for item in manifests if item.kind != "safety"]
        return (scheduled or manifests)[0]
    assert backup_id is not None
    wanted = backup_id.removesuffix(mf.MANIFEST_SUFFIX).removesuffix(mf.ARCHIVE_SUFFIX)
    for manifest in manifests:
        if manifest.id == wanted:
            return manifest
    raise BackupError(f"no backup {wanted} in {target.description}")


def save_manifest(target: Target, manifest: mf.Manifest) -> None:
    target.write_bytes(manifest.id + mf.MANIFEST_SUFFIX, mf.encode(manifest))


def check_digest(path: str, expected: mf.FileDigest, reporter: Reporter) -> None:
    """Raise unless the local file has the size and SHA-256 the manifest recorded."""
    size, sha256 = file_digest(path, reporter.progress())
    if size != expected.size or sha256 != expected.sha256:
        raise BackupError(
            f"{expected.name} is corrupt: {size} bytes with sha256 {sha256}, the manifest "
            f"says {expected.size} bytes with sha256 {expected.sha256}"
        )
