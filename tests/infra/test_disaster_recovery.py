"""Disaster recovery on the S3 side, as far as it runs here: the replication configuration a
real `terraform plan` renders, put on moto's buckets, and a backup restored in the DR region
from the replicas.

The configuration comes from a real `terraform plan` of terraform/modules/disaster_recovery
(offline provider settings, both regions) and is sent the way the AWS provider sends it
(PutBucketReplication, checked against the S3 API model by botocore and accepted by moto,
which refuses it on an unversioned bucket). moto stores a replication configuration but
never replicates, so `replicate` below does what S3 does with the stored rules: every object
version and (where the rule says so) delete marker under the rule's filter goes to the
rule's destination bucket with the same version id. A wrong destination, filter or status in
the rendered configuration leaves the replica without the backup or the receipts, and the
restore from the DR region fails.

Then the primary region is lost (its buckets are gone), and `expense-wise backup restore
latest` runs with BACKUP_S3_BUCKET and AWS_S3_BUCKET pointing at the replicas.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from terraform_harness import copy_module, offline_terraform
from tests.backups.conftest import (
    database_contents,
    drop_with_siblings,
    run_cli,
    seed_through_api,
)
from tests.conftest import create_database, database_url

pytestmark = pytest.mark.infra

ACCOUNT = "123456789012"
PRIMARY = "eu-west-1"
DR = "eu-central-1"
NAME = f"ew-dr-{uuid.uuid4().hex[:8]}"
SOURCES = {"receipts": f"{NAME}-receipts", "backups": f"{NAME}-backups"}

OFFLINE = """
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
"""
RENDER_ROOT = f"""
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws" }}
  }}
}}

provider "aws" {{
  region = "{PRIMARY}"
{OFFLINE}
}}

provider "aws" {{
  alias  = "dr"
  region = "{DR}"
{OFFLINE}
}}

module "dr" {{
  source = "../disaster_recovery"
  providers = {{
    aws    = aws
    aws.dr = aws.dr
  }}

  name = "{NAME}"
  source_buckets = {{
    receipts = {{ name = "{SOURCES["receipts"]}", arn = "arn:aws:s3:::{SOURCES["receipts"]}" }}
    backups  = {{ name = "{SOURCES["backups"]}", arn = "arn:aws:s3:::{SOURCES["backups"]}" }}
  }}
  source_kms_key_arn = "arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000001"
  db_instance_arn    = "arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:{NAME}"
}}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """bucket role -> the planned aws_s3_bucket_replication_configuration: `after` (values
    known at plan time) and `unknown` (those only the apply learns)."""
    work = tmp_path_factory.mktemp("dr")
    copy_module("disaster_recovery", work)
    render = work / "render"
    render.mkdir()
    (render / "main.tf").write_text(RENDER_ROOT)
    with offline_terraform(work) as terraform:
        terraform.init(render)
        plan = terraform.show_plan(render)
    configurations = {}
    for change in plan["resource_changes"]:
        if change["type"] == "aws_s3_bucket_replication_configuration":
            configurations[change["index"]] = {
                "after": change["change"]["after"],
                "unknown": change["change"]["after_unknown"],
            }
    assert set(configurations) == set(SOURCES), configurations
    return configurations


def api_configuration(after: dict[str, Any], role_arn: str, replica_key_arn: str) -> dict[str, Any]:
    """The planned resource as the AWS provider sends it (PutBucketReplication). The role
    and the replicas' key are created by the same apply; the test supplies moto's."""
    rules = []
    for rule in after["rule"]:
        (destination,) = rule["destination"]
        (replication_time,) = destination["replication_time"]
        (metrics,) = destination["metrics"]
        (filter_,) = rule["filter"]
        assert not filter_["and"] and not filter_["tag"], "tag filters are not modelled here"
        rules.append(
            {
                "ID": rule["id"],
                "Priority": rule["priority"],
                "Status": rule["status"],
                "Filter": {"Prefix": filter_["prefix"] or ""},
                "DeleteMarkerReplication": {
                    "Status": rule["delete_marker_replication"][0]["status"]
                },
                "SourceSelectionCriteria": {
                    "SseKmsEncryptedObjects": {
                        "Status": rule["source_selection_criteria"][0]["sse_kms_encrypted_objects"][
                            0
                        ]["status"]
                    }
                },
                "Destination": {
                    "Bucket": destination["bucket"],
                    "StorageClass": destination["storage_class"],
                    "EncryptionConfiguration": {"ReplicaKmsKeyID": replica_key_arn},
                    "ReplicationTime": {
                        "Status": replication_time["status"],
                        "Time": {"Minutes": replication_time["time"][0]["minutes"]},
                    },
                    "Metrics": {
                        "Status": metrics["status"],
                        "EventThreshold": {"Minutes": metrics["event_threshold"][0]["minutes"]},
                    },
                },
            }
        )
    return {"Role": role_arn, "Rules": rules}


def replicate(source_bucket: str) -> int:
    """What S3 does with the replication configuration moto stored on `source_bucket`: copy
    each object version, and each delete marker where the rule replicates them, that its
    filter selects to the destination with the same version id. Returns the versions
    copied."""
    from moto.s3.models import FakeDeleteMarker, FakeKey, s3_backends

    backend = s3_backends[ACCOUNT]["global"]
    source = backend.get_bucket(source_bucket)
    rules = backend.get_bucket_replication(source_bucket)["Rule"]
    copied = 0
    for rule in rules:
        if rule["Status"] != "Enabled":
            continue
        prefix = (rule.get("Filter") or {}).get("Prefix") or ""
        markers = (rule.get("DeleteMarkerReplication") or {}).get("Status") == "Enabled"
        destination = backend.get_bucket(rule["Destination"]["Bucket"].split(":::", 1)[1])
        replica_key = rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"]
        for name, versions in list(source.keys.iterlists()):
            if not name.startswith(prefix):
                continue
            present = {v.version_id for v in destination.keys.getlist(name, [])}
            replicas = []
            for version in versions:
                if version.version_id in present:
                    continue
                if isinstance(version, FakeDeleteMarker):
                    if not markers:
                        continue
                    replica: Any = FakeDeleteMarker(key=version.key)
                    replica._version_id = version.version_id
                else:
                    assert isinstance(version, FakeKey)
                    replica = FakeKey(
                        name=name,
                        value=version.value,
                        account_id=ACCOUNT,
                        region_name=destination.region_name,
                        is_versioned=True,
                        version_id=version.version_id,
                        bucket_name=destination.name,
                        encryption="aws:kms",
                        kms_key_id=replica_key,
                    )
                replicas.append(replica)
            if replicas:
                destination.keys.setlist(name, destination.keys.getlist(name, []) + replicas)
                copied += len(replicas)
    return copied


@pytest.fixture(scope="module")
def aws(s3_endpoint: str) -> Iterator[dict[str, str]]:
    """moto's endpoint, with its credentials set in this process too (boto3 reads them)."""
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in credentials.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        yield {**credentials, "AWS_ENDPOINT_URL": s3_endpoint}


def _client(service: str, aws: dict[str, str], region: str) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=aws["AWS_ENDPOINT_URL"])


@pytest.fixture(scope="module")
def buckets(aws: dict[str, str], rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The primary's versioned buckets in eu-west-1, the replicas in eu-central-1, the
    rendered replication configuration on each primary bucket; what was sent."""
    primary, dr = _client("s3", aws, PRIMARY), _client("s3", aws, DR)
    replicas = {}
    for role, source in SOURCES.items():
        destination = rendered[role]["after"]["rule"][0]["destination"][0]["bucket"]
        replicas[role] = destination.split(":::", 1)[1]
        for client, bucket, region in ((primary, source, PRIMARY), (dr, replicas[role], DR)):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
    role_arn = _client("iam", aws, PRIMARY).create_role(
        RoleName=f"{NAME}-s3-dr", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    replica_key = _client("kms", aws, DR).create_key(Description="replicas")["KeyMetadata"]["Arn"]
    sent = {}
    for role, source in SOURCES.items():
        sent[role] = api_configuration(rendered[role]["after"], role_arn, replica_key)
        primary.put_bucket_replication(Bucket=source, ReplicationConfiguration=sent[role])
    return {"replicas": replicas, "sent": sent}


def test_only_the_role_and_the_replica_key_wait_for_the_apply(
    rendered: dict[str, dict[str, Any]],
) -> None:
    for role, planned in rendered.items():
        unknown = planned["unknown"]
        assert unknown.get("role") is True, role
        destination = unknown["rule"][0]["destination"][0]
        assert destination["encryption_configuration"][0]["replica_kms_key_id"] is True
        assert "bucket" not in destination, "the destination bucket is known at plan time"
        assert planned["after"]["bucket"] == SOURCES[role]


def test_moto_stores_the_rendered_configuration_as_sent(buckets: dict[str, Any]) -> None:
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT]["global"]
    for role, source in SOURCES.items():
        stored = backend.get_bucket_replication(source)
        (rule,) = stored["Rule"] if isinstance(stored["Rule"], list) else [stored["Rule"]]
        (sent,) = buckets["sent"][role]["Rules"]
        assert stored["Role"] == buckets["sent"][role]["Role"]
        assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{buckets['replicas'][role]}"
        assert rule["DeleteMarkerReplication"]["Status"] == "Enabled"
        assert rule["Destination"]["ReplicationTime"]["Time"]["Minutes"] == "15"
        assert rule["Destination"]["EncryptionConfiguration"] == {
            "ReplicaKmsKeyID": sent["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"]
        }


@pytest.fixture
def app_database() -> Iterator[str]:
    name = create_database("ew_dr_primary")
    yield name
    drop_with_siblings(name)


@pytest.fixture
def dr_database() -> Iterator[str]:
    """The DR region's new, empty database."""
    name = create_database("ew_dr_restored")
    yield name
    drop_with_siblings(name)


def _receipts(url: str) -> list[tuple[str, str, str]]:
    from expense_wise.backup.postgres import Database

    with Database(url).connect() as connection:
        rows = connection.execute(
            "SELECT id::text, storage_key, storage_version FROM receipts ORDER BY id"
        ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _lose(client: Any, bucket: str) -> None:
    """The primary region is gone: its bucket and every version in it."""
    listing = client.list_object_versions(Bucket=bucket)
    for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        client.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
    client.delete_bucket(Bucket=bucket)


async def test_a_replicated_backup_restores_in_the_dr_region(
    base_env: dict[str, str],
    aws: dict[str, str],
    buckets: dict[str, Any],
    app_database: str,
    dr_database: str,
    tmp_path: Path,
) -> None:
    from expense_wise.db.migrate import upgrade

    primary_url = database_url(app_database)
    upgrade(primary_url)
    primary_env = {
        **base_env,
        **aws,
        "DATABASE_URL": primary_url,
        "AWS_REGION": PRIMARY,
        "AWS_S3_BUCKET": SOURCES["receipts"],
        "BACKUP_S3_BUCKET": SOURCES["backups"],
        "BACKUP_DIR": str(tmp_path / "unused"),
    }
    await seed_through_api(primary_env, receipts=2)
    before = database_contents(primary_url)
    receipts = _receipts(primary_url)
    assert len(receipts) == 4
    created = run_cli(primary_env, "create")
    assert created.exit_code == 0, created.stderr

    # S3 replicates both buckets; then the primary region is lost.
    assert replicate(SOURCES["receipts"]) >= 4 and replicate(SOURCES["backups"]) >= 2
    primary = _client("s3", aws, PRIMARY)
    for source in SOURCES.values():
        _lose(primary, source)

    dr_env = {
        **primary_env,
        "DATABASE_URL": database_url(dr_database),
        "AWS_REGION": DR,
        "AWS_S3_BUCKET": buckets["replicas"]["receipts"],
        "BACKUP_S3_BUCKET": buckets["replicas"]["backups"],
    }
    restored = run_cli(dr_env, "restore", "latest", "--yes")
    assert restored.exit_code == 0, restored.stderr
    assert database_contents(database_url(dr_database)) == before
    assert _receipts(database_url(dr_database)) == receipts
    dr = _client("s3", aws, DR)
    for _, key, version in receipts:
        dr.head_object(Bucket=buckets["replicas"]["receipts"], Key=key, VersionId=version)

    verified = run_cli(dr_env, "verify", "latest")
    assert verified.exit_code == 0, verified.stderr
