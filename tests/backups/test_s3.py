"""Backups in S3 (moto's server on 127.0.0.1) with receipts in a versioned bucket: the
manifest pins every receipt object's version and a restore brings those versions back."""

from __future__ import annotations

import secrets
from typing import Any

import boto3
import pytest

from expense_wise.backup import manifest as mf
from expense_wise.backup.catalog import load_manifests
from expense_wise.backup.targets import S3Target
from tests.backups.conftest import database_contents, png, run_cli, seed_through_api


@pytest.fixture
def s3_env(backup_env: dict[str, str], moto_endpoint: str) -> dict[str, str]:
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint)
    suffix = secrets.token_hex(4)
    env = {
        **backup_env,
        "AWS_S3_BUCKET": f"receipts-{suffix}",
        "BACKUP_S3_BUCKET": f"backups-{suffix}",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": "us-east-1",
    }
    for bucket in (env["AWS_S3_BUCKET"], env["BACKUP_S3_BUCKET"]):
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return env


def s3(env: dict[str, str]) -> Any:
    return boto3.client("s3", region_name="us-east-1", endpoint_url=env["AWS_ENDPOINT_URL"])


def current_body(env: dict[str, str], key: str) -> bytes:
    response = s3(env).get_object(Bucket=env["AWS_S3_BUCKET"], Key=key)
    return bytes(response["Body"].read())


def receipts_in(url: str) -> list[tuple[str, str, str]]:
    from expense_wise.backup.postgres import Database

    with Database(url).connect() as connection:
        rows = connection.execute(
            "SELECT id::text, storage_key, storage_version FROM receipts ORDER BY id"
        ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


async def test_s3_backup_pins_receipt_versions_and_restore_brings_them_back(
    s3_env: dict[str, str],
) -> None:
    env = s3_env
    url = env["DATABASE_URL"]
    await seed_through_api(env, receipts=2)
    before = database_contents(url)
    receipts = receipts_in(url)
    assert len(receipts) == 4 and all(version != "None" for _, _, version in receipts)
    originals = {key: current_body(env, key) for _, key, _ in receipts}

    created = run_cli(env, "create")
    assert created.exit_code == 0, created.stderr
    target = S3Target(s3(env), env["BACKUP_S3_BUCKET"], "backups/")
    (manifest,) = load_manifests(target)
    assert sorted(target.names()) == [manifest.archive.name, manifest.id + mf.MANIFEST_SUFFIX]
    head = s3(env).head_object(
        Bucket=env["BACKUP_S3_BUCKET"], Key="backups/" + manifest.archive.name
    )
    assert head["ServerSideEncryption"] == "AES256"
    assert manifest.receipts is not None and manifest.receipts.storage == "s3"
    assert {(o.key, o.version_id) for o in manifest.receipts.objects} == {
        (key, version) for _, key, version in receipts
    }

    # After the backup one receipt is overwritten (and its row moved to the new version),
    # another deleted.
    (_, overwritten, _), (_, deleted, _) = receipts[0], receipts[1]
    put = s3(env).put_object(Bucket=env["AWS_S3_BUCKET"], Key=overwritten, Body=png(999))
    s3(env).delete_object(Bucket=env["AWS_S3_BUCKET"], Key=deleted)
    from expense_wise.backup.postgres import Database

    with Database(url).connect(autocommit=True) as connection:
        connection.execute(
            "UPDATE receipts SET storage_version = %s WHERE storage_key = %s",
            (put["VersionId"], overwritten),
        )

    restored = run_cli(env, "restore", manifest.id, "--yes", "--force")
    assert restored.exit_code == 0, restored.stderr
    assert "copied_back 2" in restored.output
    assert receipts_in(url) == receipts
    assert database_contents(url) == before
    for _, key, _ in receipts:
        assert current_body(env, key) == originals[key]

    verified = run_cli(env, "verify", manifest.id)
    assert verified.exit_code == 0, verified.stderr


async def test_verify_reports_receipt_rows_whose_objects_are_gone(s3_env: dict[str, str]) -> None:
    env = s3_env
    await seed_through_api(env, receipts=1)
    assert run_cli(env, "create").exit_code == 0
    receipt_id, key, version = receipts_in(env["DATABASE_URL"])[0]
    s3(env).delete_object(Bucket=env["AWS_S3_BUCKET"], Key=key, VersionId=version)

    result = run_cli(env, "verify", "--latest")
    assert result.exit_code == 1
    assert f"receipt {receipt_id}: object {key} version {version} is gone" in result.stderr
    listing = run_cli(env, "list")
    assert "FAILED" in listing.output
