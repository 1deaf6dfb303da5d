"""Playbooks run for real: migrate against a scratch database, refusals of incomplete requests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO

CLI = REPO / ".venv" / "bin" / "expense-wise"
PG = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]


def _ansible_playbook() -> str | None:
    local = REPO / ".venv" / "bin" / "ansible-playbook"
    return str(local) if local.exists() else shutil.which("ansible-playbook")


def _psql(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", *PG, "-v", "ON_ERROR_STOP=1", "-tAc", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.fixture
def scratch_database() -> Iterator[str]:
    if not CLI.exists():
        pytest.skip(f"{CLI.relative_to(REPO)} is missing (the application is not installed)")
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    if _psql("SELECT 1").returncode != 0:
        pytest.skip("no PostgreSQL with trust auth for postgres on 127.0.0.1:5432")
    name = f"ew_infra_{uuid.uuid4().hex[:12]}"
    created = _psql(f'CREATE DATABASE "{name}"')
    assert created.returncode == 0, created.stderr
    try:
        yield name
    finally:
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_playbook_upgrades_a_fresh_database(scratch_database: str) -> None:
    playbook = _ansible_playbook()
    if playbook is None:
        pytest.skip("ansible-playbook is not installed (uv sync --group infra)")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{scratch_database}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
    }
    result = subprocess.run(
        [
            playbook,
            "-i",
            "inventory/local",
            "playbooks/migrate.yml",
            "-e",
            f"expense_wise_cli_command={CLI}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    revision = subprocess.run(
        ["psql", *PG, "-d", scratch_database, "-tAc", "SELECT version_num FROM alembic_version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert revision.returncode == 0 and revision.stdout.strip(), revision.stderr


@pytest.mark.parametrize(
    ("playbook_args", "hint"),
    [
        (["playbooks/restore.yml", "-e", "backup_id=latest"], "confirm_restore=yes"),
        (["playbooks/deploy.yml", "-e", "deploy_scheduler=nomad"], "image_tag=<tag>"),
        (["playbooks/deploy.yml", "-e", "image_tag=abc"], "deploy_scheduler=nomad|kubernetes"),
    ],
)
def test_playbooks_refuse_incomplete_requests(playbook_args: list[str], hint: str) -> None:
    playbook = _ansible_playbook()
    if playbook is None:
        pytest.skip("ansible-playbook is not installed (uv sync --group infra)")
    result = subprocess.run(
        [playbook, "-i", "inventory/local", *playbook_args],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert hint in result.stdout


def _http(
    method: str, url: str, body: dict[str, str] | None = None, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "the API exited before it was ready"
        try:
            if _http("GET", f"{base}/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{base}/ready did not answer 200")


def test_backup_and_restore_playbooks_on_localhost(scratch_database: str, tmp_path: Path) -> None:
    """backup.yml then restore.yml for real against a running API on this machine: the
    restore brings back data changed after the backup, and the smoke check passes."""
    playbook = _ansible_playbook()
    if playbook is None:
        pytest.skip("ansible-playbook is not installed (uv sync --group infra)")
    app_env = {
        "APP_ENV": "test",
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{scratch_database}",
        "DATA_DIR": str(tmp_path / "var"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "LOG_LEVEL": "WARNING",
    }
    env = {**os.environ, **app_env, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    env.pop("REDIS_URL", None)
    password = "Restore-Drill-Passphrase-7"
    subprocess.run([str(CLI), "migrate"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run(
        [str(CLI), "create-user", "smoke@example.com", "--password-stdin"],
        env=env,
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def run_playbook(*args: str) -> None:
        result = subprocess.run(
            [
                playbook,
                "-i",
                "inventory/local",
                *args,
                "-e",
                f"expense_wise_cli_command={CLI}",
                "-e",
                f"expense_wise_public_url={base}",
                "-e",
                "expense_wise_cli_smoke_email=smoke@example.com",
                "-e",
                f"expense_wise_cli_smoke_password={password}",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]

    try:
        _wait_ready(base, server)
        status, tokens = _http(
            "POST",
            f"{base}/api/v1/auth/login",
            {"email": "smoke@example.com", "password": password},
        )
        assert status == 200
        token = tokens["access_token"]
        status, expense = _http(
            "POST",
            f"{base}/api/v1/expenses",
            {"amount": "42.00", "occurred_on": "2024-05-01", "merchant": "Before Backup"},
            token,
        )
        assert status == 201

        run_playbook("playbooks/backup.yml")
        assert list((tmp_path / "backups").glob("*.json")), "no manifest was written"

        # A mistake after the backup: the expense is deleted.
        assert _http("DELETE", f"{base}/api/v1/expenses/{expense['id']}", token=token)[0] == 204

        run_playbook("playbooks/restore.yml", "-e", "backup_id=latest", "-e", "confirm_restore=yes")

        deadline = time.monotonic() + 30
        while True:  # the first request after the swap may meet a connection to the old db
            status, body = _http("GET", f"{base}/api/v1/expenses/{expense['id']}", token=token)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == 200 and body["merchant"] == "Before Backup"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        leftovers = _psql(
            "SELECT datname FROM pg_database WHERE datname LIKE "
            f"'{scratch_database}%' AND datname <> '{scratch_database}'"
        ).stdout.split()
        for name in leftovers:
            _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _ApiAfterASwap(BaseHTTPRequestHandler):
    """An API whose first pooled request per route meets a connection to the replaced
    database: 503 "retry the request" once, then normal answers."""

    answered: set[str]
    password = "Smoke-Passphrase-7"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _route(self, body: dict[str, Any] | None = None) -> None:
        if self.path in ("/health", "/ready"):
            self._answer(200, {"status": "ok"})
        elif self.path not in self.answered:
            self.answered.add(self.path)
            self._answer(503, {"detail": "database connection lost; retry the request"})
        elif body is not None and body.get("password") != self.password:
            self._answer(401, {"detail": "invalid credentials"})
        else:
            self._answer(200, {"access_token": "t"} if body is not None else {"items": []})

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._route(json.loads(self.rfile.read(length)))


@pytest.mark.parametrize(
    ("password", "passes"), [(_ApiAfterASwap.password, True), ("wrong", False)]
)
def test_smoke_check_retries_the_apis_retryable_503_only(password: str, passes: bool) -> None:
    """After a restore the first pooled request of a running API answers 503 (its connection
    went to the replaced database); the smoke check retries that, and nothing else."""
    playbook = _ansible_playbook()
    if playbook is None:
        pytest.skip("ansible-playbook is not installed (uv sync --group infra)")
    _ApiAfterASwap.answered = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ApiAfterASwap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            [
                playbook,
                "-i",
                "inventory/local",
                "playbooks/smoke.yml",
                "-e",
                f"expense_wise_public_url=http://127.0.0.1:{server.server_port}",
                "-e",
                "expense_wise_cli_smoke_email=smoke@example.com",
                "-e",
                f"expense_wise_cli_smoke_password={password}",
            ],
            cwd=REPO,
            env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) == passes, result.stdout[-4000:]
