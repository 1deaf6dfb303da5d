"""The alerts, end to end: a real Prometheus scrapes a live API and worker with the rules of
monitoring/slos.yaml (every window and `for` 90 times shorter: an hour lasts 40 seconds), the
test breaks things the way production breaks, and Prometheus's HTTP API must show each
matching alert go pending, fire, and resolve after recovery.

Faults: no verified backup, the database going away under the API (a burst of 5xx), Redis
stopped, the worker stopped while a receipt waits and a job sits in the queue. Then the
dashboards: every panel's query is evaluated against the same Prometheus.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis as redis_sync
import yaml

from expense_wise.db.migrate import upgrade
from monitoring import dashboards
from monitoring.render import RULES_FILE
from monitoring.spec import REPO, Spec
from tests.conftest import (
    EXPENSE_WISE,
    PASSWORD,
    WorkerProcess,
    create_database,
    database_url,
    drop_database,
    free_port,
    live_server,
    process_env,
    run_sql,
)
from tests.monitoring.stack import (
    PrivateRedis,
    Prometheus,
    TcpProxy,
    family,
    metric_names_in,
    scaled_rules_config,
    temporary_directory,
    wait_until,
)
from tests.receipts.conftest import png_bytes

# Upper bounds for a loaded CI machine (with coverage tracing the processes); a quiet
# machine takes a fraction of them.
FIRE_TIMEOUT = 90.0
RESOLVE_TIMEOUT = 90.0


@dataclass
class Stack:
    env: dict[str, str]
    api: str
    worker: WorkerProcess
    redis: PrivateRedis
    database: TcpProxy
    prometheus: Prometheus
    http: httpx.Client
    token: str = ""

    def sign_up(self) -> None:
        email = f"monitored-{secrets.token_hex(4)}@example.com"
        body = {"email": email, "password": PASSWORD, "name": "Monitored"}
        assert self.http.post("/api/v1/auth/register", json=body).status_code == 201
        login = self.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        self.token = login.json()["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def use_the_api(self) -> list[int]:
        """A little of what users do: create an expense, list them."""
        body = {"amount": "4.20", "occurred_on": "2026-11-02", "merchant": "Bakery"}
        created = self.http.post("/api/v1/expenses", json=body, headers=self.headers)
        listed = self.http.get("/api/v1/expenses", headers=self.headers)
        return [created.status_code, listed.status_code]

    def upload_receipt(self, width: int) -> str:
        files = {"file": ("receipt.png", png_bytes(width, 20), "image/png")}
        response = self.http.post("/api/v1/receipts", files=files, headers=self.headers)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def take_verified_backup(self) -> None:
        for command in (["backup", "create"], ["backup", "verify", "--latest"]):
            result = subprocess.run(
                [EXPENSE_WISE, *command],
                env=process_env(self.env),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stdout + result.stderr

    def recover(self) -> None:
        """Undo what a failed scenario may have left broken."""
        self.database.restore()
        if self.redis.process is None or self.redis.process.poll() is not None:
            self.redis.start()
        if self.worker.process is None or self.worker.process.poll() is not None:
            self.worker.start()

    def states(self) -> dict[tuple[str, str], str]:
        return self.prometheus.active_alerts()

    def wait_firing(
        self, *alerts: tuple[str, str], while_doing: Any = None, since_start: bool = False
    ) -> None:
        """Wait until every alert fires, then check Prometheus recorded it pending first.
        `since_start`: the fault was there when Prometheus started; it writes no ALERTS
        sample for an alert's first evaluations after start (it restores alert state then),
        so a pending phase cannot be shown."""

        def firing() -> bool:
            if while_doing is not None:
                while_doing()
            states = self.states()
            return all(states.get(alert) == "firing" for alert in alerts)

        wait_until(
            firing,
            FIRE_TIMEOUT,
            lambda: f"not all of {alerts} firing: {self.states()}; {self.prometheus.targets()}",
        )
        if since_start:
            return
        for name in {name for name, _ in alerts}:
            assert self.prometheus.went_pending(name), f"{name} fired without being pending"

    def wait_resolved(self, *alerts: tuple[str, str], while_doing: Any = None) -> None:
        def resolved() -> bool:
            if while_doing is not None:
                while_doing()
            states = self.states()
            return not any(alert in states for alert in alerts)

        wait_until(
            resolved,
            RESOLVE_TIMEOUT,
            lambda: f"still active of {alerts}: {self.states()}; {self.prometheus.targets()}",
        )


@pytest.fixture(scope="module")
def stack(prometheus_binary: str) -> Iterator[Stack]:
    with contextlib.ExitStack() as cleanup, temporary_directory() as directory:
        name = create_database("ew_monitoring")
        cleanup.callback(drop_database, name)
        direct_url = database_url(name)
        upgrade(direct_url)
        proxy = TcpProxy(int(direct_url.split("@127.0.0.1:")[1].split("/")[0]))
        cleanup.callback(proxy.close)
        redis = PrivateRedis(directory)
        redis.start()
        cleanup.callback(redis.stop)
        worker_metrics = free_port()
        env = {
            "APP_ENV": "test",
            "DATABASE_URL": direct_url,
            "REDIS_URL": redis.url,
            "REDIS_KEY_PREFIX": "ew-monitoring:",
            "DATA_DIR": str(directory / "var"),
            "BACKUP_DIR": str(directory / "backups"),
            "JWT_SECRET": "monitoring-" + secrets.token_hex(16),
            "RATE_LIMIT_MAX": "100000",
            "AUTH_RATE_LIMIT": "1000",
            "LOG_LEVEL": "WARNING",
        }
        # Only the API goes through the proxy: cutting it is the API's database going away.
        api_env = {**env, "DATABASE_URL": direct_url.replace(
            f"127.0.0.1:{proxy.upstream[1]}", f"127.0.0.1:{proxy.port}"
        )}  # fmt: skip
        api, _process = cleanup.enter_context(live_server(api_env))
        worker = WorkerProcess(
            {**env, "WORKER_METRICS_PORT": str(worker_metrics)}, directory / "worker.log"
        ).start()
        cleanup.callback(worker.stop)
        targets = {
            "expense-wise-api": api.removeprefix("http://"),
            "expense-wise-worker": f"127.0.0.1:{worker_metrics}",
        }
        prometheus = Prometheus(
            prometheus_binary, directory, scaled_rules_config(directory, targets)
        )
        prometheus.start()
        cleanup.callback(prometheus.stop)
        http = cleanup.enter_context(httpx.Client(base_url=api, timeout=30))
        monitored = Stack(env, api, worker, redis, proxy, prometheus, http)
        monitored.sign_up()
        assert monitored.use_the_api() == [201, 200]
        wait_until(
            lambda: len(prometheus.query("up == 1")) == 2, 30, "API and worker not both scraped"
        )
        yield monitored


def test_alerts_fire_and_resolve_on_real_faults(stack: Stack) -> None:
    started = time.monotonic()
    backup_age = ("ExpenseWiseBackupAgeFastBurn", "")
    availability = ("ExpenseWiseAvailabilityFastBurn", "")

    # No backup was ever taken (the worker reports none) and the database goes away under
    # the API: every request that needs it fails with a 5xx.
    stack.database.cut()

    def failing_requests() -> None:
        assert set(stack.use_the_api()) <= {500, 503}

    stack.wait_firing(backup_age, since_start=True)
    stack.wait_firing(availability, while_doing=failing_requests)
    stack.database.restore()

    # Redis stops: the API reports it unreachable and itself not ready. The worker is
    # stopped too, while a receipt is uploaded (kept in the database while Redis is down)
    # and left waiting for 11 minutes.
    stack.redis.stop()
    stack.worker.stop()
    receipt = stack.upload_receipt(width=40)
    eleven_minutes_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)
    run_sql(
        stack.env, "UPDATE receipts SET created_at = %s WHERE id = %s", eleven_minutes_ago, receipt
    )
    redis_down = ("ExpenseWiseRedisUnreachable", "")
    not_ready = ("ExpenseWiseAPINotReady", "redis")
    worker_down = ("ExpenseWiseWorkerDown", "")
    stale_receipts = ("ExpenseWiseReceiptFreshnessFastBurn", "")
    stack.wait_firing(redis_down, not_ready, worker_down, stale_receipts)
    # The database is back, so the 5xx burst is over: the page stops by itself.
    stack.wait_resolved(availability, while_doing=stack.use_the_api)

    # Redis returns; the worker is still down, so a second receipt's job waits in the queue
    # (as if for 11 minutes). Meanwhile an operator takes and verifies a backup.
    stack.redis.start()
    stack.wait_resolved(redis_down, not_ready)
    stack.upload_receipt(width=41)
    queue = redis_sync.Redis.from_url(stack.env["REDIS_URL"])
    queued = queue.zrange("ew-monitoring:queue", 0, -1)
    assert queued, "the upload queued no job"
    queue.zadd("ew-monitoring:queue", {job: (time.time() - 660) * 1000 for job in queued})
    queue.close()
    stalled = ("ExpenseWiseJobQueueStalled", "")
    with ThreadPoolExecutor(max_workers=1) as background:
        backup = background.submit(stack.take_verified_backup)
        stack.wait_firing(stalled)
        backup.result()

    # The worker comes back: it reads the receipts, empties the queue and sees the backup.
    stack.worker.start()
    stack.wait_resolved(worker_down, stale_receipts, stalled, backup_age)
    rows = run_sql(stack.env, "SELECT status FROM receipts ORDER BY created_at")
    assert {status for (status,) in rows} <= {"done", "failed"}

    elapsed = time.monotonic() - started
    print(f"alerting scenario: {elapsed:.0f} s; {stack.prometheus.targets()}")


def test_every_name_the_rules_and_dashboards_read_is_one_the_app_exports(stack: Stack) -> None:
    stack.recover()
    spec = Spec.load()
    rules = yaml.safe_load((REPO / RULES_FILE).read_text())["groups"]
    recorded = {rule["record"] for group in rules for rule in group["rules"] if "record" in rule}
    exported = stack.prometheus.metric_names() | recorded | {"up", "ALERTS"}
    expressions = [rule["expr"] for group in rules for rule in group["rules"]]
    for board in dashboards.all_dashboards(spec).values():
        expressions += [expr for _title, expr in dashboards.queries(board)]
    unknown = {
        name
        for expr in expressions
        for name in metric_names_in(expr)
        if name not in exported and family(name) not in exported
    }
    assert not unknown, f"not exported by the API or the worker: {sorted(unknown)}"


def test_every_dashboard_query_evaluates(stack: Stack) -> None:
    stack.recover()
    stack.use_the_api()
    stack.upload_receipt(width=42)
    for name, board in dashboards.all_dashboards(Spec.load()).items():
        for title, expr in dashboards.queries(board):
            # Grafana fills in $__rate_interval; Prometheus must accept what results.
            query = expr.replace(dashboards.RATE, "1m")
            try:
                stack.prometheus.query(query)
            except AssertionError as error:
                raise AssertionError(f"{name} / {title}: {query}") from error
