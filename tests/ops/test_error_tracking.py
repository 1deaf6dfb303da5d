"""Error tracking with Sentry: unhandled errors of a request and of a job reach a Sentry
endpoint (here a local HTTP server that keeps every envelope), tagged with the release,
environment and request id or job, and with no password, token, secret or Authorization
header in them. Without SENTRY_DSN nothing is set up."""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from expense_wise.error_tracking import init_error_tracking
from expense_wise.settings import SettingsError, load_settings
from tests.conftest import (
    PASSWORD,
    WorkerProcess,
    create_database,
    database_url,
    drop_database,
    free_port,
    live_server,
    run_sql,
)

# Secrets the processes know; none may appear in what they send.
URL_PASSWORD = "url-password-Kq81"  # trust authentication on 127.0.0.1 ignores it
SMTP_PASSWORD = "smtp-password-Zr02"


class EnvelopeSink:
    """A Sentry ingestion endpoint on 127.0.0.1 that keeps every envelope it receives."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_port}/42"

    def events(self) -> list[dict[str, Any]]:
        """The error events among the envelopes (sessions and client reports left out)."""
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            time.sleep(0.2)
        raise AssertionError(f"no matching event after {timeout} s: {self.events()}")


@pytest.fixture
def sink() -> Iterator[EnvelopeSink]:
    sink = EnvelopeSink()
    sink.thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


@pytest.fixture
def broken_env(
    base_env: dict[str, str], sink: EnvelopeSink, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """A database of its own (the test breaks its schema), with a password in its URL that
    trust authentication ignores, and error tracking pointed at the sink."""
    name = create_database("ew_sentry")
    url = make_url(database_url(name)).set(password=URL_PASSWORD)
    from expense_wise.db.migrate import upgrade

    upgrade(url.render_as_string(hide_password=False))
    yield {
        **base_env,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "SENTRY_DSN": sink.dsn,
        "SENTRY_ENVIRONMENT": "ci",
        "SENTRY_RELEASE": "expense-wise@test-release",
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "LOG_LEVEL": "INFO",
    }
    drop_database(name)


def exception_type(event: dict[str, Any]) -> str:
    return str(event["exception"]["values"][-1]["type"])


def request(method: str, url: str, body: dict[str, Any] | None = None, **headers: str) -> int:
    data = json.dumps(body).encode() if body is not None else None
    prepared = urllib.request.Request(url, data=data, method=method)
    prepared.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        prepared.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(prepared, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def register_and_login(base: str) -> tuple[str, str]:
    email = "sentry-user@example.com"
    body = {"email": email, "password": PASSWORD, "name": "Sentry"}
    assert request("POST", f"{base}/api/v1/auth/register", body) == 201
    login = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=60) as response:
        tokens = json.load(response)
    return tokens["access_token"], tokens["refresh_token"]


def test_unhandled_request_and_job_errors_reach_sentry_without_secrets(
    broken_env: dict[str, str], sink: EnvelopeSink, tmp_path: Path
) -> None:
    with live_server(broken_env) as (base, _process):
        access_token, refresh_token = register_and_login(base)
        # A schema the code does not expect: every read of expenses fails inside the handler.
        run_sql(broken_env, "ALTER TABLE expenses RENAME COLUMN merchant TO merchant_gone")
        status = request(
            "GET",
            f"{base}/api/v1/expenses?q=coffee",
            Authorization=f"Bearer {access_token}",
            X_Request_ID="req-sentry-1",
        )
        assert status == 500
        run_sql(broken_env, "ALTER TABLE users RENAME COLUMN password_hash TO hash_gone")
        body = {"email": "sentry-user@example.com", "password": PASSWORD}
        assert request("POST", f"{base}/api/v1/auth/login", body) == 500
        # A 404 is the client's business, not an error to report.
        assert request("GET", f"{base}/api/v1/nothing-here") == 404

        request_event = sink.wait_for(
            lambda e: e.get("tags", {}).get("request_id") == "req-sentry-1"
        )
        assert exception_type(request_event) == "ProgrammingError"
        assert request_event["release"] == "expense-wise@test-release"
        assert request_event["environment"] == "ci"
        assert request_event["tags"]["component"] == "api"
        assert request_event["request"]["method"] == "GET"
        assert "/api/v1/expenses" in request_event["request"]["url"]
        sink.wait_for(lambda e: "/auth/login" in e.get("request", {}).get("url", ""))

    # The worker's outbox flush (run at start-up) reads a table whose schema is broken too.
    run_sql(broken_env, "ALTER TABLE outbox_emails RENAME COLUMN next_attempt_at TO next_gone")
    worker = WorkerProcess(broken_env, tmp_path / "worker.log").start()
    try:
        job_event = sink.wait_for(lambda e: e.get("tags", {}).get("job") == "flush_outbox")
        # The verification email queued at registration fails the same way.
        sink.wait_for(lambda e: e.get("tags", {}).get("job") == "send_email")
    finally:
        worker.stop()
    assert exception_type(job_event) == "ProgrammingError"
    assert job_event["tags"]["component"] == "worker"
    assert job_event["tags"]["job_try"] == "1"
    assert job_event["release"] == "expense-wise@test-release"

    everything = b"\n".join(sink.envelopes)
    for secret in (
        PASSWORD,
        access_token,
        refresh_token,
        broken_env["JWT_SECRET"],
        URL_PASSWORD,
        SMTP_PASSWORD,
    ):
        assert secret.encode() not in everything, f"{secret[:6]}... was sent to Sentry"
    assert b"Bearer" not in everything
    assert request_event["request"]["headers"]["authorization"] == "[redacted]"
    # Handled errors (the 404) were not reported: one event per unhandled error.
    # One event per unhandled error: not the 404, not the worker's own stop on SIGTERM.
    reported = sorted(
        (event["tags"]["component"], event["tags"].get("job") or event["request"]["url"])
        for event in sink.events()
    )
    assert reported == [
        ("api", f"{base}/api/v1/auth/login"),
        ("api", f"{base}/api/v1/expenses"),
        ("worker", "flush_outbox"),
        ("worker", "send_email"),
    ]


def test_off_without_a_dsn_and_the_dsn_is_validated(tmp_path: Path) -> None:
    env = {"APP_ENV": "test", "DATA_DIR": str(tmp_path)}
    assert init_error_tracking(load_settings(env), "api") is False
    with pytest.raises(SettingsError) as error:
        load_settings({**env, "SENTRY_DSN": "not-a-dsn"})
    assert "SENTRY_DSN" in str(error.value)
    settings = load_settings({**env, "SENTRY_DSN": "https://key@sentry.example.com/7"})
    assert settings.error_tracking.environment == "test"
    assert settings.error_tracking.release == "expense-wise@0.1.0"
