"""`expense-wise preflight`: every dependency reached with the app's own settings, one line
per check, and exit 1 with one `problem:` line per problem."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result

from expense_wise.cli import main
from expense_wise.db.migrate import MIGRATIONS_DIR, head_revision, upgrade
from tests.conftest import (
    EXPENSE_WISE,
    MailSink,
    create_database,
    database_url,
    drop_database,
    free_port,
    process_env,
    run_sql,
)


def preflight(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["preflight", *args], env=env, catch_exceptions=False)


def preflight_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point, for what exactly reaches stdout and stderr."""
    return subprocess.run(
        [EXPENSE_WISE, "preflight", *args],
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines(text: str, kind: str) -> dict[str, str]:
    """{check: message} of the `ok:` or `problem:` lines."""
    found = {}
    for line in text.splitlines():
        if line.startswith(f"{kind}: "):
            check, _, message = line.removeprefix(f"{kind}: ").partition(": ")
            found[check] = message
    return found


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = create_database("ew_preflight")
    yield database_url(name)
    drop_database(name)


class LoginServer:
    """An SMTP server (aiosmtpd) that accepts only user `mailer` with password `right`."""

    def __init__(self) -> None:
        self.port = free_port()

        def authenticate(
            _server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                b"mailer",
                b"right",
            )
            return AuthResult(success=ok, handled=False)  # unhandled: the server answers 535

        self.controller = Controller(
            MailSink(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticate,
            auth_require_tls=False,
            ready_timeout=10,
        )


@pytest.fixture
def login_server() -> Iterator[LoginServer]:
    server = LoginServer()
    server.controller.start()
    yield server
    server.controller.stop()


def test_every_dependency_answers(s3_env: dict[str, str], mail_env: dict[str, str]) -> None:
    result = preflight(s3_env, "--migrated", "--expect-head", head_revision())
    assert result.exit_code == 0, result.output
    ok = lines(result.stdout, "ok")
    assert set(ok) == {
        "settings", "database", "redis", "receipt storage", "backups", "email", "migration head"
    }  # fmt: skip
    assert ok["database"].startswith(f"schema at this image's head {head_revision()}")
    assert ok["redis"].startswith("reachable and writable (master)")
    bucket = s3_env["AWS_S3_BUCKET"]
    assert ok["receipt storage"].startswith(f"s3://{bucket}: put, get and delete")
    assert ok["backups"].startswith(f"s3://{bucket}/backups/: listed, 0 backup(s)")
    assert ok["email"].startswith(f"127.0.0.1:{mail_env['SMTP_PORT']} answered (no TLS, no login)")
    assert "problem:" not in result.stderr
    # The probe object is gone again.
    s3 = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="preflight/")["KeyCount"] == 0


def test_each_unreachable_dependency_is_one_problem_line(s3_env: dict[str, str]) -> None:
    env = {
        **s3_env,
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "AWS_S3_BUCKET": "no-such-receipts-bucket",
        "BACKUP_S3_BUCKET": "no-such-backups-bucket",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(free_port()),
    }
    result = preflight_process(env)
    assert result.returncode == 1
    problems = lines(result.stderr, "problem")
    assert set(problems) == {"redis", "receipt storage", "backups", "email"}
    assert len(result.stderr.splitlines()) == 4, result.stderr
    assert "127.0.0.1:1" in problems["redis"]
    assert (
        "NoSuchBucket" in problems["receipt storage"]
        or "does not exist" in problems["receipt storage"]
    )
    assert "NoSuchBucket" in problems["backups"]
    assert "Error connecting to 127.0.0.1" in problems["email"]
    assert set(lines(result.stdout, "ok")) == {"settings", "database"}


def test_an_unreachable_database_is_named_without_its_password(base_env: dict[str, str]) -> None:
    env = {**base_env, "DATABASE_URL": "postgresql://app:Secret-Pw-1@127.0.0.1:1/expenses"}
    result = preflight(env)
    assert result.exit_code == 1
    problems = lines(result.stderr, "problem")
    assert list(problems) == ["database"]
    assert "Connection refused" in problems["database"]
    assert "Secret-Pw-1" not in result.output


def test_invalid_settings_are_one_line_each(tmp_path: Any) -> None:
    env = {"APP_ENV": "production", "DATA_DIR": str(tmp_path), "PORT": "99999"}
    result = preflight(env)
    assert result.exit_code == 1
    assert result.stdout == ""
    problems = result.stderr.splitlines()
    assert all(line.startswith("problem: settings: ") for line in problems)
    assert [line.split(": ")[2].split("=")[0].split(":")[0] for line in problems] == [
        "PORT",
        "DATABASE_URL",
        "JWT_SECRET",
    ]


def test_pending_migrations_are_reported_then_refused_once_the_deploy_migrated(
    base_env: dict[str, str], scratch_database: str
) -> None:
    upgrade(scratch_database, "0002")
    # The revisions after 0002, read from the migration files' names (YYYYMMDD_NNNN_*.py).
    later = sorted(
        revision
        for revision in (path.name.split("_")[1] for path in MIGRATIONS_DIR.glob("versions/*.py"))
        if revision > "0002"
    )
    env = {**base_env, "DATABASE_URL": scratch_database}
    before = preflight(env)
    assert before.exit_code == 0, before.output
    assert lines(before.stdout, "ok")["database"].startswith(
        f"schema at 0002, {len(later)} migration(s) pending: {', '.join(later)}"
        " (`expense-wise migrate` applies them)"
    )
    after = preflight(env, "--migrated")
    assert after.exit_code == 1
    assert lines(after.stderr, "problem")["database"].startswith(
        f"schema at 0002, {len(later)} migration(s)"
    )


def test_a_schema_newer_than_the_code_is_refused(
    base_env: dict[str, str], scratch_database: str
) -> None:
    upgrade(scratch_database)
    env = {**base_env, "DATABASE_URL": scratch_database}
    run_sql(env, "UPDATE alembic_version SET version_num = '0099'")
    result = preflight(env)
    assert result.exit_code == 1
    problem = lines(result.stderr, "problem")["database"]
    assert problem.startswith("the schema is at revision 0099, which this image does not know")
    assert "newer than this code" in problem


def test_an_image_from_another_commit_than_the_deploy_is_refused(base_env: dict[str, str]) -> None:
    result = preflight(base_env, "--expect-head", "0004")
    assert result.exit_code == 1
    assert lines(result.stderr, "problem") == {
        "migration head": f"this image's migrations end at {head_revision()}, the deploy "
        "expects 0004: the image and the deploy come from different commits"
    }


def test_smtp_login_is_checked(base_env: dict[str, str], login_server: LoginServer) -> None:
    env = {**base_env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(login_server.port)}
    accepted = preflight({**env, "SMTP_USER": "mailer", "SMTP_PASSWORD": "right"})
    assert accepted.exit_code == 0, accepted.output
    assert "login accepted" in lines(accepted.stdout, "ok")["email"]
    refused = preflight({**env, "SMTP_USER": "mailer", "SMTP_PASSWORD": "wrong"})
    assert refused.exit_code == 1
    assert lines(refused.stderr, "problem")["email"].startswith(
        "127.0.0.1 refused SMTP_USER's login: 535"
    )
    assert "wrong" not in refused.output
