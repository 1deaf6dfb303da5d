"""The metrics the alert rules and dashboards in monitoring/ are built on: readiness, the
database pool, receipt and email freshness, the job queue's age, OCR outcomes and backups."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from expense_wise.backup import metrics as backup_metrics
from expense_wise.backup import targets
from expense_wise.db import models as m
from expense_wise.domain.notifications.services import refresh_outbox_metrics
from expense_wise.domain.receipts import jobs
from expense_wise.domain.receipts.metrics import refresh_gauges
from expense_wise.jobs import JOB_REGISTRY
from expense_wise.runtime.arq_runner import ArqQueue
from expense_wise.runtime.in_process import InProcessQueue
from expense_wise.settings import load_settings
from tests.backups.test_list import hours_ago, write
from tests.backups.test_prune import backup
from tests.conftest import AppClient, expense_body, register, running_app
from tests.receipts.conftest import insert_receipt, job_context, session_factory


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a /metrics page (None when absent)."""
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return float(item.value)
    return None


async def scrape(client: AppClient[Any], name: str, **labels: str) -> float | None:
    return sample((await client.get("/metrics")).text, name, **labels)


async def test_readiness_checks_are_published_per_dependency(client, base_env):
    await client.get("/ready")
    assert await scrape(client, "readiness_check_ok", check="database") == 1
    assert await scrape(client, "readiness_check_ok", check="redis") == 1
    async with running_app({**base_env, "REDIS_URL": "redis://127.0.0.1:1/0"}) as unreachable:
        # The periodic check runs from start-up on, without any probe asking.
        deadline = time.monotonic() + 5
        while await scrape(unreachable, "readiness_check_ok", check="redis") != 0:
            assert time.monotonic() < deadline, "the failing Redis check was not published"
            await asyncio.sleep(0.1)
        assert await scrape(unreachable, "readiness_check_ok", check="database") == 1


async def test_pool_size_connections_in_use_and_timeouts(base_env):
    env = {**base_env, "DATABASE_POOL_SIZE": "2", "DATABASE_POOL_TIMEOUT": "1"}
    async with running_app(env) as client:
        account = await register(client)
        assert await scrape(client, "db_pool_size") == 2
        idle = await scrape(client, "db_pool_connections_in_use")
        timeouts = await scrape(client, "db_pool_timeouts_total") or 0
        first = await client.app.state.engine.connect()
        second = await client.app.state.engine.connect()
        try:
            assert await scrape(client, "db_pool_connections_in_use") == (idle or 0) + 2
            busy = await client.get("/api/v1/expenses", headers=account.headers)
            assert busy.status_code == 503
        finally:
            await first.close()
            await second.close()
        assert await scrape(client, "db_pool_connections_in_use") == idle
        assert await scrape(client, "db_pool_timeouts_total") == timeouts + 1


async def test_oldest_pending_receipt_age(client, alice):
    async with job_context(client) as ctx:
        # What the app's refresh loop reads, built on the test's event loop.
        state = SimpleNamespace(**ctx)
        await refresh_gauges(state)
        assert await scrape(client, "receipts_oldest_pending_age_seconds") == 0
        created = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)
        await insert_receipt(client, alice, status="processing", created_at=created)
        old = created - dt.timedelta(hours=1)
        await insert_receipt(client, alice, status="done", created_at=old)
        await refresh_gauges(state)
    age = await scrape(client, "receipts_oldest_pending_age_seconds")
    assert age is not None and 660 <= age < 700
    assert await scrape(client, "receipts", status="processing") == 1


async def test_queue_age_counts_due_jobs_that_no_worker_holds(base_env):
    settings = load_settings(base_env)
    queue = await ArqQueue.connect(settings)
    # ARQ's job keys are global to the Redis database: ids of this test's own.
    held, later = (f"{name}-{uuid.uuid4().hex}" for name in ("held", "later"))
    try:
        assert await queue.oldest_wait_seconds() == 0
        await queue.enqueue("send_email", "1", job_id=held)
        await queue.enqueue("send_email", "2", job_id=later, defer_seconds=600)
        # Backdate the due job by five minutes, as if no worker had taken it.
        await queue.pool.zadd(queue.queue_name, {held: (time.time() - 300) * 1000})
        age = await queue.oldest_wait_seconds()
        assert 299 <= age < 330
        assert await queue.queue_depth() == 2
        # A job a worker is running stays in ARQ's queue; it is not waiting.
        await queue.pool.set(f"arq:in-progress:{held}", b"1", ex=60)
        assert await queue.oldest_wait_seconds() == 0
    finally:
        await queue.pool.delete(
            *(f"arq:{kind}:{job}" for kind in ("in-progress", "job") for job in (held, later))
        )
        await queue.close()


async def test_in_process_queue_age():
    queue = InProcessQueue(JOB_REGISTRY)
    assert await queue.oldest_wait_seconds() == 0
    # No slot free: the job waits in the embedded queue, as behind a busy worker.
    async with queue.slots, queue.slots:
        await queue.enqueue("send_email", str(uuid.uuid4()), job_id="waiting")
        await queue.enqueue("send_email", str(uuid.uuid4()), job_id="later", defer_seconds=60)
        time.sleep(0.2)
        assert 0.2 <= await queue.oldest_wait_seconds() < 5
    for task in list(queue.tasks):
        task.cancel()


async def test_outbox_ages_distinguish_due_from_backing_off(client, alice):
    now = dt.datetime.now(dt.UTC)
    rows = [
        # Due for 20 minutes and not sent: the worker is not keeping up.
        {
            "created_at": now - dt.timedelta(minutes=25),
            "next_attempt_at": now - dt.timedelta(minutes=20),
        },
        # Older, but backing off after a failed attempt: not due yet.
        {
            "created_at": now - dt.timedelta(hours=2),
            "next_attempt_at": now + dt.timedelta(minutes=30),
        },
    ]
    async with session_factory(client)() as session:
        for times in rows:
            session.add(
                m.OutboxEmail(
                    kind="test",
                    to_address=alice.email,
                    subject="s",
                    text_body="t",
                    html_body="h",
                    message_id=f"<{uuid.uuid4()}@test>",
                    status="pending",
                    **times,
                )
            )
        await session.commit()
        await refresh_outbox_metrics(session)
    due = REGISTRY.get_sample_value("outbox_oldest_due_age_seconds")
    unsent = REGISTRY.get_sample_value("outbox_oldest_unsent_age_seconds")
    assert due is not None and 1200 <= due < 1260
    assert unsent is not None and 7200 <= unsent < 7260


async def test_finished_receipts_are_counted_by_status(client, alice):
    before = REGISTRY.get_sample_value("receipts_finished_total", {"status": "failed"}) or 0
    missing = await insert_receipt(client, alice, status="pending", attempts=0)
    async with job_context(client) as ctx:
        assert await jobs.process_receipt(ctx, str(missing.id)) == "failed"
        # A second run skips it: counted once.
        assert await jobs.process_receipt(ctx, str(missing.id)) == "skipped"
    assert REGISTRY.get_sample_value("receipts_finished_total", {"status": "failed"}) == before + 1


async def test_backup_gauges_follow_the_backup_target(tmp_path: Path):
    env = {"APP_ENV": "test", "DATA_DIR": str(tmp_path / "var"), "BACKUP_DIR": str(tmp_path)}
    settings = load_settings(env)
    await backup_metrics.refresh_gauges(settings)
    assert REGISTRY.get_sample_value("expense_wise_backup_count") == 0
    assert REGISTRY.get_sample_value("expense_wise_backup_newest_verified_timestamp_seconds") == 0

    verified = backup(hours_ago(30), verified=True)
    write(tmp_path, verified, backup(hours_ago(2)))
    assert isinstance(targets.resolve_target(settings, None), targets.DirectoryTarget)
    await backup_metrics.refresh_gauges(settings)
    assert REGISTRY.get_sample_value("expense_wise_backup_count") == 2
    newest_verified = REGISTRY.get_sample_value(
        "expense_wise_backup_newest_verified_timestamp_seconds"
    )
    assert newest_verified == verified.created_at.timestamp()


async def test_latency_objective_has_its_own_bucket(client, alice):
    await client.post("/api/v1/expenses", json=expense_body(), headers=alice.headers)
    text = (await client.get("/metrics")).text
    assert (
        sample(
            text,
            "http_request_duration_seconds_bucket",
            path="/api/v1/expenses",
            method="POST",
            le="0.3",
        )
        is not None
    )
