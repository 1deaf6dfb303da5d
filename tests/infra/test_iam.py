"""The app's real AWS calls under exactly the IAM policies Terraform attaches to its roles.

The policies are rendered by a real `terraform plan` of terraform/modules/app_iam (offline
provider settings) and read from `terraform show -json`, role by role: the IRSA role (API,
worker and the backup CronJobs on EKS) and the Nomad hosts' role (the same processes and the
periodic backup job on Nomad). Each role becomes a moto IAM user holding those policies;
moto's server then enforces IAM (`/moto-api/reset-auth`) while the real CLI and API run:
start-up with SECRETS_MANAGER_PREFIX, a receipt upload -> OCR job -> download by version,
and `backup create`, `verify latest`, `restore latest`.

The download is a presigned URL, which S3 authorises as its signer (the role); moto's server
cannot check query-string signatures with IAM on, so the test makes that GetObjectVersion
with the role's credentials.

moto checks Secrets Manager actions against the resource "*" only, so those statements are
loaded with Resource "*" and their real resource patterns are matched here against the ARNs
moto gave the secrets, as IAM would match them. moto does not model KMS grants for S3.
"""

from __future__ import annotations

import fnmatch
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from infra_helpers import REPO
from terraform_harness import copy_module, offline_terraform
from tests.conftest import RECEIPTS_DIR, create_database, database_url

pytestmark = pytest.mark.infra

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "expense-wise/iam-test"
RECEIPTS_BUCKET = "ew-iam-test-receipts"
BACKUPS_BUCKET = "ew-iam-test-backups"
CLI = REPO / ".venv" / "bin" / "expense-wise"
PASSWORD = "Iam-Test-Passphrase-9"
# /moto-api/reset-auth takes the number of requests served before IAM is enforced.
NO_AUTH = str(10**9).encode()

RENDER_ROOT = f"""
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws" }}
  }}
}}

# Offline: nothing is created, the plan only renders the policy documents.
provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}}

module "app_iam" {{
  source = "../app_iam"

  name                = "expense-wise-iam-test"
  receipts_bucket_arn = "arn:aws:s3:::{RECEIPTS_BUCKET}"
  backups_bucket_arn  = "arn:aws:s3:::{BACKUPS_BUCKET}"
  buckets_kms_key_arn = "arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000001"
  secrets_prefix      = "{PREFIX}"
  secrets_kms_key_arn = "arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000002"
  enable_irsa         = true
  oidc_provider_arn   = "arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/T"
}}
"""


def _roles_and_policies(plan: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """role resource name -> the policy documents attached to it in the plan."""
    documents = {
        change["address"].removeprefix("module.app_iam."): json.loads(
            change["change"]["after"]["policy"]
        )
        for change in plan["resource_changes"]
        if change["type"] == "aws_iam_policy"
    }
    module = plan["configuration"]["root_module"]["module_calls"]["app_iam"]["module"]
    roles: dict[str, list[dict[str, Any]]] = {
        r["name"]: [] for r in module["resources"] if r["type"] == "aws_iam_role"
    }
    for resource in module["resources"]:
        if resource["type"] != "aws_iam_role_policy_attachment":
            continue
        role_refs = resource["expressions"]["role"]["references"]
        policy_refs = resource["expressions"]["policy_arn"].get("references", [])
        (role,) = {
            ref.split(".")[1].split("[")[0] for ref in role_refs if ref.startswith("aws_iam_role.")
        }
        # AWS-managed policies (SSM Session Manager) grant nothing the app calls.
        for ref in policy_refs:
            if ref.startswith("aws_iam_policy.") and ref.count(".") == 1:
                roles[role].append(documents[ref])
    return roles


@pytest.fixture(scope="module")
def role_policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    work = tmp_path_factory.mktemp("iam")
    copy_module("app_iam", work)
    render = work / "render"
    render.mkdir()
    (render / "main.tf").write_text(RENDER_ROOT)
    with offline_terraform(work) as terraform:
        terraform.init(render)
        plan = terraform.show_plan(render)
    roles = _roles_and_policies(plan)
    assert set(roles) == {"irsa", "nomad_host"}, roles
    assert all(roles.values()), f"a role without the app policy: {roles}"
    return roles


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def _moto_api(endpoint: str, path: str, data: bytes) -> None:
    """POST to moto's control API (reset, reset-auth: requests served before IAM applies)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/{path}", data=data, headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request, timeout=10).close()


def _as_moto_policy(document: dict[str, Any]) -> dict[str, Any]:
    """The document with Secrets Manager statements on Resource "*" (see the module doc)."""
    statements = []
    for statement in document["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if all(action.startswith("secretsmanager:") for action in actions):
            statement = {**statement, "Resource": "*"}
        statements.append(statement)
    return {**document, "Statement": statements}


def _allows_secret(document: dict[str, Any], action: str, arn: str) -> bool:
    for statement in document["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if (
            statement["Effect"] == "Allow"
            and action in actions
            and any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources)
        ):
            return True
    return False


@dataclass
class AwsWorld:
    endpoint: str
    access_key: str
    secret_key: str
    secret_arns: dict[str, str]


def _admin(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="admin",
        aws_secret_access_key="admin",
    )


@pytest.fixture(params=["irsa", "nomad_host"])
def world(
    request: pytest.FixtureRequest,
    moto_server: str,
    role_policies: dict[str, list[dict[str, Any]]],
) -> Iterator[AwsWorld]:
    """Buckets, secrets and a user carrying the role's policies; IAM enforced while the test
    runs. Yields the user's credentials."""
    role = request.param
    database = create_database("ew_iam")
    _moto_api(moto_server, "reset", b"")
    _moto_api(moto_server, "reset-auth", NO_AUTH)
    s3 = _admin("s3", moto_server)
    for bucket in (RECEIPTS_BUCKET, BACKUPS_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    secrets = _admin("secretsmanager", moto_server)
    values = {
        "DATABASE_URL": database_url(database),
        "JWT_SECRET": "iam-test-" + uuid.uuid4().hex * 2,
    }
    secret_arns = {
        name: secrets.create_secret(Name=f"{PREFIX}/{name}", SecretString=value)["ARN"]
        for name, value in values.items()
    }
    iam = _admin("iam", moto_server)
    user = f"role-{role}"
    iam.create_user(UserName=user)
    for number, document in enumerate(role_policies[role]):
        for name, arn in secret_arns.items():
            assert _allows_secret(document, "secretsmanager:GetSecretValue", arn), (role, name)
        arn = iam.create_policy(
            PolicyName=f"{role}-{number}", PolicyDocument=json.dumps(_as_moto_policy(document))
        )["Policy"]["Arn"]
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    _moto_api(moto_server, "reset-auth", b"0")
    try:
        yield AwsWorld(moto_server, key["AccessKeyId"], key["SecretAccessKey"], secret_arns)
    finally:
        _moto_api(moto_server, "reset-auth", NO_AUTH)
        _drop_with_siblings(database)


def _drop_with_siblings(name: str) -> None:
    from tests.backups.conftest import drop_with_siblings

    drop_with_siblings(name)


def _app_env(world: AwsWorld, tmp_path: Path) -> dict[str, str]:
    """Only what a pod or allocation gets: no DATABASE_URL or JWT_SECRET, those come from
    Secrets Manager under the role's credentials."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "APP_ENV": "test",
        "DATA_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "WARNING",
        "SECRETS_MANAGER_PREFIX": PREFIX,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": world.access_key,
        "AWS_SECRET_ACCESS_KEY": world.secret_key,
        "AWS_ENDPOINT_URL": world.endpoint,
        "AWS_SECRETS_MANAGER_ENDPOINT_URL": world.endpoint,
        "AWS_S3_BUCKET": RECEIPTS_BUCKET,
        "BACKUP_S3_BUCKET": BACKUPS_BUCKET,
        "AUTH_RATE_LIMIT": "1000",
        "RATE_LIMIT_MAX": "100000",
    }


def _cli(env: dict[str, str], *args: str, timeout: int = 300) -> str:
    result = subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    assert result.returncode == 0, (
        f"expense-wise {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def _request(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    payload = json.dumps(body).encode() if body is not None else data
    request = urllib.request.Request(url, data=payload, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _upload_ocr_and_download(env: dict[str, str]) -> None:
    """serve (jobs in-process): register, upload a receipt, wait for the OCR job (GetObject by
    VersionId), then download it through the presigned URL of that version."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if _request("GET", f"{base}/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.3)
        email = f"iam-{uuid.uuid4().hex[:8]}@example.com"
        credentials = {"email": email, "password": PASSWORD, "name": "IAM"}
        assert _request("POST", f"{base}/api/v1/auth/register", credentials)[0] == 201
        status, _, raw = _request("POST", f"{base}/api/v1/auth/login", credentials)
        assert status == 200, raw
        auth = {"Authorization": f"Bearer {json.loads(raw)['access_token']}"}
        image = (RECEIPTS_DIR / "trading.jpg").read_bytes()
        body, content_type = _multipart("file", "receipt.jpg", image)
        status, _, raw = _request(
            "POST",
            f"{base}/api/v1/receipts",
            data=body,
            headers={**auth, "Content-Type": content_type},
        )
        assert status == 202, raw
        receipt_id = json.loads(raw)["id"]
        deadline = time.monotonic() + 120
        while True:
            status, _, raw = _request("GET", f"{base}/api/v1/receipts/{receipt_id}", headers=auth)
            receipt = json.loads(raw)
            if receipt["status"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline, receipt
            time.sleep(0.5)
        assert receipt["status"] == "done", receipt
        status, headers, _ = _request(
            "GET", f"{base}/api/v1/receipts/{receipt_id}/file", headers=auth
        )
        assert status == 307, status
        location = urllib.parse.urlsplit(headers.get("location") or headers["Location"])
        query = urllib.parse.parse_qs(location.query)
        # S3 authorises a presigned URL as its signer: the role, GetObjectVersion. moto's
        # server cannot check query-string signatures with IAM on, so the same request is made
        # with the role's credentials directly.
        s3 = boto3.client(
            "s3",
            region_name=REGION,
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        bucket, key = location.path.lstrip("/").split("/", 1)
        downloaded = s3.get_object(
            Bucket=bucket, Key=urllib.parse.unquote(key), VersionId=query["versionId"][0]
        )["Body"].read()
        assert downloaded == image
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_app_works_under_exactly_the_role_policy(world: AwsWorld, tmp_path: Path) -> None:
    env = _app_env(world, tmp_path)
    # Start-up: DATABASE_URL and JWT_SECRET from Secrets Manager (GetSecretValue).
    assert "database at revision" in _cli(env, "migrate")
    _upload_ocr_and_download(env)
    # backup create pins receipt versions (GetBucketVersioning, ListBucketVersions) and
    # uploads multipart; verify and restore read the archive and the pinned versions.
    _cli(env, "backup", "create")
    assert "verified" in _cli(env, "backup", "verify", "latest")
    assert "restored backup" in _cli(env, "backup", "restore", "latest", "--yes")
