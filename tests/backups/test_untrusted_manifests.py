"""Every name in a manifest is untrusted: prune, restore and verify refuse a manifest that
names anything but a plain file beside it, and touch nothing outside the backup directory."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result

from expense_wise.backup import manifest as mf
from expense_wise.backup.postgres import BackupError
from expense_wise.backup.targets import DirectoryTarget
from expense_wise.cli import main

VICTIM_BYTES = b"someone else's file\n"


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["backup", *args], env=env, catch_exceptions=False)


def hostile_manifest(backup_id: str, archive: str, receipts: str | None = None) -> mf.Manifest:
    created = dt.datetime(2020, 1, 1, 2, tzinfo=dt.UTC)  # old: prune would delete it
    digest = mf.FileDigest(
        name=archive, size=len(VICTIM_BYTES), sha256=hashlib.sha256(VICTIM_BYTES).hexdigest()
    )
    return mf.Manifest(
        id=backup_id,
        created_at=created,
        database="app",
        server_version="16",
        revision=None,
        archive=digest,
        tables={},
        receipts=None
        if receipts is None
        else mf.Receipts(
            storage="local", count=0, archive=msgspec.structs.replace(digest, name=receipts)
        ),
        seconds=1.0,
    )


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A backup directory and, beside it, a file nobody may delete or read through it."""
    backups = tmp_path / "backups"
    backups.mkdir()
    victim = tmp_path / "victim_file.txt"
    victim.write_bytes(VICTIM_BYTES)
    return backups, victim


HOSTILE = {
    "archive.name": lambda victim: hostile_manifest(
        "20200101T020000Z-aaaaaa", "../victim_file.txt"
    ),
    "absolute archive.name": lambda victim: hostile_manifest(
        "20200101T020000Z-aaaaaa", str(victim)
    ),
    "receipts.archive.name": lambda victim: hostile_manifest(
        "20200101T020000Z-aaaaaa", "20200101T020000Z-aaaaaa.dump", "../victim_file.txt"
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["prune", "verify", "restore"])
def test_commands_refuse_a_manifest_naming_a_file_outside_the_directory(
    sqlite_env: dict[str, str], layout: tuple[Path, Path], case: str, command: str
) -> None:
    backups, victim = layout
    manifest = HOSTILE[case](victim)
    (backups / (manifest.id + mf.MANIFEST_SUFFIX)).write_bytes(mf.encode(manifest))
    (backups / manifest.archive.name.split("/")[-1]).write_bytes(VICTIM_BYTES)
    args = {
        "prune": ["prune", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"],
        "verify": ["verify", manifest.id],
        "restore": ["restore", manifest.id, "--yes"],
    }[command]
    result = run(sqlite_env, *args, "--from", str(backups))
    assert result.exit_code == 1, result.output
    assert "is not a plain file name" in result.output
    assert f"refusing manifest {manifest.id}.json" in result.output
    assert victim.read_bytes() == VICTIM_BYTES
    assert (backups / (manifest.id + mf.MANIFEST_SUFFIX)).exists()  # nothing was deleted


def test_prune_refuses_an_id_that_would_name_a_file_outside(
    sqlite_env: dict[str, str], layout: tuple[Path, Path]
) -> None:
    # Prune deletes `<id>.json`: an id of `../victim` would reach `../victim.json`.
    backups, victim = layout
    outside = victim.with_suffix(".json")
    outside.write_bytes(VICTIM_BYTES)
    manifest = hostile_manifest("../victim_file", "20200101T020000Z-aaaaaa.dump")
    (backups / "20200101T020000Z-aaaaaa.json").write_bytes(mf.encode(manifest))
    result = run(
        sqlite_env,
        "prune",
        "--keep-daily",
        "0",
        "--keep-weekly",
        "0",
        "--keep-monthly",
        "0",
        "--from",
        str(backups),
    )
    assert result.exit_code == 1, result.output
    assert "id '../victim_file' is not a plain file name" in result.output
    assert outside.read_bytes() == VICTIM_BYTES


def test_a_manifest_stored_under_another_backups_name_is_refused(
    sqlite_env: dict[str, str], layout: tuple[Path, Path]
) -> None:
    backups, _ = layout
    manifest = hostile_manifest("20200101T020000Z-bbbbbb", "20200101T020000Z-bbbbbb.dump")
    (backups / "20200101T020000Z-aaaaaa.json").write_bytes(mf.encode(manifest))
    result = run(sqlite_env, "list", "--from", str(backups))
    assert result.exit_code == 1
    assert "does not match the file name" in result.output


# "ABSOLUTE" stands for the victim's absolute path: a real system file here would be deleted
# by the first regression (or mutant) that lets the name through.
@pytest.mark.parametrize("name", ["../x", "ABSOLUTE", "a/b", "..", ".", "", "a\\b", "a\0b"])
def test_the_directory_target_itself_refuses_every_non_plain_name(
    layout: tuple[Path, Path], name: str
) -> None:
    backups, victim = layout
    if name == "ABSOLUTE":
        name = str(victim)
    target = DirectoryTarget(backups)
    with pytest.raises(BackupError, match="not a plain file name"):
        target.delete(name)
    with pytest.raises(BackupError, match="not a plain file name"):
        target.read_bytes(name)
    with pytest.raises(BackupError, match="not a plain file name"):
        target.write_bytes(name, b"x")
    with pytest.raises(BackupError, match="not a plain file name"), target.fetch(name):
        pass
    assert victim.read_bytes() == VICTIM_BYTES


def test_the_s3_target_refuses_names_leaving_its_prefix_or_download_directory(
    moto_endpoint: str, tmp_path: Path
) -> None:
    import boto3

    from expense_wise.backup.targets import S3Target

    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint)
    bucket = "untrusted-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="other/secret.dump", Body=b"another prefix")
    target = S3Target(client, bucket, "backups/")
    for name in ("../other/secret.dump", "../../tmp/x", "a/b"):
        with pytest.raises(BackupError, match="not a plain file name"), target.fetch(name):
            pass
        with pytest.raises(BackupError, match="not a plain file name"):
            target.delete(name)
    assert client.get_object(Bucket=bucket, Key="other/secret.dump")["Body"].read()
