"""Shared fixtures: a real PostgreSQL database and a real Redis for the whole run, emptied
between tests, and an app client in front of them.

Environment: TEST_DATABASE_URL (server URL without a database name is fine; default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and TEST_REDIS_URL (default
redis://127.0.0.1:6379). Each run creates its own scratch database and uses its own Redis key
prefix, so parallel runs on one machine do not collide.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest
import redis as redis_sync
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from expense_wise.app import create_app
from expense_wise.db import models as m
from expense_wise.db.migrate import upgrade
from expense_wise.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# Synthetic receipts with ground truth, rendered by scripts/make_test_receipts.py and
# committed, so the receipt tests run wherever the repository does (../shared's scanned
# receipts are for the benchmarks).
RECEIPTS_DIR = REPO_ROOT / "tests" / "data" / "receipts"


def missing_data(reason: str) -> NoReturn:
    """Skip a test whose data or server is missing, except in CI (CI=true), where a silent
    skip would pass a run that tested nothing: there it fails."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (a skip fails under CI=true)")
    pytest.skip(reason)


PASSWORD = "Sturdy-Password-42"

_server_url = make_url(
    os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
)
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
# Redis database per run (by process id), so two runs' cron jobs and queues never meet.
REDIS_DB = 1 + os.getpid() % 15
REDIS_URL = f"{REDIS_BASE_URL}/{REDIS_DB}"


def _admin_conninfo() -> str:
    url = _server_url.set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def create_database(prefix: str = "ew_test") -> str:
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(_admin_conninfo(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(name: str) -> str:
    return _server_url.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A migrated scratch PostgreSQL database for the whole run; its URL."""
    name = create_database()
    url = database_url(name)
    upgrade(url)
    yield url
    drop_database(name)


def truncate_all(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in m.Base.metadata.sorted_tables)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {tables} CASCADE")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"ew-test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def base_env(pg_database: str, redis_prefix: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment of the production setup (PostgreSQL + Redis) for one test; the database is
    emptied afterwards."""
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": pg_database,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "DATA_DIR": str(tmp_path / "var"),
        "JWT_SECRET": "test-secret-" + secrets.token_hex(16),
        "RATE_LIMIT_MAX": "100000",
        "AUTH_RATE_LIMIT": "1000",
        "LOG_LEVEL": "WARNING",
    }
    yield env
    truncate_all(pg_database)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """The embedded default: SQLite under a temporary DATA_DIR, jobs in-process."""
    return {
        "APP_ENV": "test",
        "DATA_DIR": str(tmp_path / "var"),
        "RATE_LIMIT_MAX": "100000",
        "AUTH_RATE_LIMIT": "1000",
        "LOG_LEVEL": "WARNING",
    }


AppClient = AsyncTestClient  # type alias for annotations in tests


@asynccontextmanager
async def running_app(env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    settings: Settings = load_settings(env)
    if settings.database.is_sqlite:
        upgrade(settings.database.url)
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
async def client(base_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    async with running_app(base_env) as test_client:
        yield test_client


@pytest.fixture
async def sqlite_client(sqlite_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    async with running_app(sqlite_env) as test_client:
        yield test_client


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(
    client: AsyncTestClient[Any], email: str | None = None, password: str = PASSWORD
) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "name": "Test"}
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Account(user_id, email, password, tokens["access_token"], tokens["refresh_token"])


@pytest.fixture
def make_account(client: AsyncTestClient[Any]) -> Callable[..., Any]:
    async def make(email: str | None = None) -> Account:
        return await register(client, email)

    return make


@pytest.fixture
async def alice(client: AsyncTestClient[Any]) -> Account:
    return await register(client)


@pytest.fixture
async def bob(client: AsyncTestClient[Any]) -> Account:
    return await register(client)


def expense_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": "12.50",
        "currency": "EUR",
        "occurred_on": "2024-05-01",
        "merchant": "Corner Cafe",
    }
    body.update(overrides)
    return body


# --- S3 through moto's server mode, and real worker processes ----------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real HTTP S3 endpoint (moto's server mode) on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


S3_TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture
def s3_env(
    base_env: dict[str, str], s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """`base_env` with receipts in a fresh versioned bucket on the moto server. The AWS
    credentials are also set in this process, where boto3 reads them."""
    import boto3

    for name, value in S3_TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = f"ew-test-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    base_env.update(S3_TEST_CREDENTIALS)
    base_env.update({"AWS_S3_BUCKET": bucket, "AWS_ENDPOINT_URL": s3_endpoint})
    return base_env


class WorkerProcess:
    """`expense-wise worker` as a subprocess; ready once ARQ records its first health check."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.health_key = f"{env['REDIS_KEY_PREFIX']}queue:health-check"

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        redis_client = redis_sync.Redis.from_url(self.env["REDIS_URL"])
        try:
            redis_client.delete(self.health_key)  # a killed predecessor's key would look ready
            executable = Path(sys.executable).parent / "expense-wise"
            command = (
                [str(executable), "worker"]
                if executable.exists()
                else [sys.executable, "-c", "from expense_wise.cli import main; main()", "worker"]
            )
            with self.log_path.open("ab") as log_file:
                self.process = subprocess.Popen(
                    command,
                    env={**os.environ, **self.env},
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + timeout
            while not redis_client.exists(self.health_key):
                if self.process.poll() is not None:
                    raise RuntimeError(f"worker exited at start:\n{self.log_tail()}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"worker not ready after {timeout} s:\n{self.log_tail()}")
                time.sleep(0.1)
        finally:
            redis_client.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no cleanup, like an OOM kill or a lost machine."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], WorkerProcess]]:
    """Start real worker processes with an environment; all are stopped at teardown."""
    workers: list[WorkerProcess] = []

    def start(env: dict[str, str]) -> WorkerProcess:
        worker = WorkerProcess(env, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


# --- A real SMTP server and in-process ARQ workers (notifications, budgets, recurring) ----


class MailSink:
    """aiosmtpd handler keeping every accepted message (the server runs in its own thread)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """An aiosmtpd server on a free port of 127.0.0.1 that can be stopped and started again
    on the same port (an SMTP outage)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sink = MailSink()
        self.controller: Any = None

    @property
    def messages(self) -> list[Any]:
        return self.sink.messages

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.port, ready_timeout=10
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Any]:
        return [message for message in self.messages if message["To"] == address]

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Any]:
        import asyncio

        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {count} emails after {timeout} s")
            await asyncio.sleep(0.05)
        return list(self.messages)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_env(base_env: dict[str, str], smtp_server: SmtpServer) -> dict[str, str]:
    """`base_env` sending mail to the test SMTP server."""
    base_env.update(
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_server.port),
            "SMTP_FROM": "Expense-Wise <no-reply@example.com>",
            "PUBLIC_BASE_URL": "https://app.example.com",
        }
    )
    return base_env


async def run_worker_burst(env: dict[str, str], timeout: float = 30.0) -> int:
    """Run a real ARQ worker in this process until the queue (deferred jobs included) is
    empty; returns how many jobs completed. Cron jobs are left out: tests queue them."""
    import asyncio

    from arq.worker import create_worker

    from expense_wise.jobs import JOB_REGISTRY
    from expense_wise.runtime.arq_runner import worker_settings

    worker = create_worker(
        worker_settings(load_settings(env), JOB_REGISTRY),
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        cron_jobs=[],
    )
    try:
        await asyncio.wait_for(worker.main(), timeout=timeout)
    finally:
        await worker.close()
    return int(worker.jobs_complete)


# --- Real processes -----------------------------------------------------------------------

VENV_BIN = Path(sys.executable).parent
EXPENSE_WISE = str(VENV_BIN / "expense-wise")


def process_env(env: dict[str, str]) -> dict[str, str]:
    """The test environment for a child process (PATH and friends kept, app variables set)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "DATABASE_"))}
    return {**keep, **env}


def wait_for_http(
    url: str, timeout: float = 90.0, process: subprocess.Popen[Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextmanager
def live_server(
    env: dict[str, str], *args: str, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    """`expense-wise serve` in a child process on `port` (default: a free one); yields
    (base URL, process)."""
    port = port or free_port()
    # Output goes to a file: an unread pipe would block a chatty server once it fills up.
    output = tempfile.NamedTemporaryFile(prefix="expense-wise-serve-", suffix=".log")  # noqa: SIM115
    process = subprocess.Popen(
        [EXPENSE_WISE, "serve", "--port", str(port), *args],
        env=process_env({**env, "HOST": "127.0.0.1"}),
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.output_path = output.name  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health", process=process)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        output.close()


@asynccontextmanager
async def served_app(env: dict[str, str], timeout: float = 15.0) -> AsyncIterator[str]:
    """The app behind a real uvicorn server on a free port of 127.0.0.1, in this event loop, so
    concurrent requests really run concurrently (the test client handles one at a time);
    yields the base URL."""
    import asyncio

    import uvicorn

    settings = load_settings(env)
    if settings.database.is_sqlite:
        upgrade(settings.database.url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if task.done() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=timeout)


def run_sql(env: dict[str, str], statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the PostgreSQL database of `env` (autocommit); its rows."""
    conninfo = (
        make_url(env["DATABASE_URL"])
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(conninfo, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


async def enqueue_job(
    env: dict[str, str], name: str, *args: Any, job_id: str | None = None
) -> None:
    """Queue a job on the Redis of `env` (an app's own pool belongs to the test client's
    event loop, so tests queue through their own)."""
    from expense_wise.runtime.arq_runner import ArqQueue

    queue = await ArqQueue.connect(load_settings(env))
    try:
        await queue.enqueue(name, *args, job_id=job_id)
    finally:
        await queue.close()
