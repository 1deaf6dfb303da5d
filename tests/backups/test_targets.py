"""Targets never show a half-written object under its final name."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from expense_wise.backup.postgres import BackupError
from expense_wise.backup.streaming import store_command_output
from expense_wise.backup.targets import PART_SIZE, DirectoryTarget, S3Target


def test_a_failing_command_leaves_nothing_in_a_directory(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path)
    with pytest.raises(BackupError, match="exit 3"):
        store_command_output(
            ["sh", "-c", "head -c 3000000 /dev/zero; echo broken >&2; exit 3"],
            target,
            "x.dump",
        )
    assert list(tmp_path.iterdir()) == []


def test_directory_upload_hashes_what_it_stores(tmp_path: Path) -> None:
    import hashlib

    digest = store_command_output(["sh", "-c", "printf hello"], DirectoryTarget(tmp_path), "x")
    assert (tmp_path / "x").read_bytes() == b"hello"
    assert digest.sha256 == hashlib.sha256(b"hello").hexdigest() and digest.size == 5


def test_s3_upload_is_multipart_and_encrypted(moto_endpoint: str) -> None:
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint)
    client.create_bucket(Bucket="multipart-test")
    target = S3Target(client, "multipart-test", "backups")
    size = 2 * PART_SIZE + 12345
    digest = store_command_output(["head", "-c", str(size), "/dev/urandom"], target, "big.dump")
    head = client.head_object(Bucket="multipart-test", Key="backups/big.dump")
    assert head["ContentLength"] == size == digest.size
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert head["ServerSideEncryption"] == "AES256"

    with pytest.raises(BackupError):
        store_command_output(
            ["sh", "-c", f"head -c {size} /dev/zero; exit 1"], target, "broken.dump"
        )
    assert target.names() == ["big.dump"]
