"""The OCR job and the sweeper: failure handling with fakes, then the real thing (a worker
process on Redis, S3 on moto's server, Tesseract on real receipts, a `kill -9`), and the
embedded default with jobs in-process."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import boto3
import httpx
import pytesseract
import pytest
from arq import Retry
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from litestar.testing import AsyncTestClient

from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.receipts import jobs, processing, services
from expense_wise.domain.receipts.metrics import refresh_gauges
from expense_wise.storage import StorageUnavailable, StoredObject
from tests.conftest import (
    REDIS_URL,
    Account,
    AppClient,
    WorkerProcess,
    free_port,
    register,
    running_app,
)
from tests.receipts.conftest import (
    COMPLETE_RECEIPT,
    insert_receipt,
    job_context,
    load_receipt,
    receipt_bytes,
    truncated_jpeg,
    upload,
    wait_for_status,
)


class UnreachableStorage:
    """Storage whose backend is down (S3 outage)."""

    async def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        raise StorageUnavailable("S3 put_object failed: connection refused")

    async def get(self, key: str, version_id: str | None = None) -> bytes:
        raise StorageUnavailable("S3 get_object failed: connection refused")

    async def delete(self, key: str) -> None:
        raise StorageUnavailable("S3 delete_object failed: connection refused")

    async def presigned_url(self, key: str, version_id: str | None = None) -> str | None:
        return None


async def pending_receipt(client: AppClient[Any], account: Account, data: bytes) -> m.Receipt:
    receipt_id = uuid.uuid4()
    key = services.storage_key(uuid.UUID(account.id), receipt_id)
    await client.app.state.storage.put(key, data, "image/jpeg")
    return await insert_receipt(
        client, account, id=receipt_id, status="pending", attempts=0, storage_key=key
    )


async def test_transient_failures_are_retried_with_backoff_then_fail_readably(
    client: AppClient[Any], alice: Account
) -> None:
    row = await insert_receipt(client, alice, status="pending", attempts=0)
    delays = []
    for attempt in range(1, processing.MAX_ATTEMPTS):
        with pytest.raises(Retry) as retry:
            async with job_context(client, storage=UnreachableStorage()) as ctx:
                await jobs.process_receipt(ctx, str(row.id))
        delays.append(retry.value.defer_score)
        current = await load_receipt(client, row.id)
        assert current is not None
        assert (current.status, current.attempts) == ("pending", attempt)
        assert "storage unavailable" in (current.error or "")
        assert current.next_attempt_at is not None and current.next_attempt_at > utcnow()
    assert delays == sorted(delays) and len(set(delays)) == len(delays)  # growing backoff

    async with job_context(client, storage=UnreachableStorage()) as ctx:
        assert await jobs.process_receipt(ctx, str(row.id)) == "failed"
    final = await load_receipt(client, row.id)
    assert final is not None and final.status == "failed"
    assert final.attempts == processing.MAX_ATTEMPTS
    assert "gave up after 4 attempts" in (final.error or "")
    assert final.finished_at is not None


async def test_tesseract_crash_is_retried(
    client: AppClient[Any], alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(data: bytes, engine: str) -> Any:
        raise pytesseract.TesseractError(-11, "segmentation fault")

    monkeypatch.setattr(jobs.extraction, "extract", crash)
    row = await pending_receipt(client, alice, receipt_bytes())
    with pytest.raises(Retry):
        async with job_context(client) as ctx:
            await jobs.process_receipt(ctx, str(row.id))
    current = await load_receipt(client, row.id)
    assert current is not None and current.status == "pending"
    assert "TesseractError" in (current.error or "")


async def test_a_cancelled_job_hands_the_receipt_back_at_once(
    client: AppClient[Any], alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker shutdown or job timeout: pending again now, not when the lease runs out."""
    started, release = threading.Event(), threading.Event()

    def slow_ocr(data: bytes, engine: str) -> Any:
        started.set()
        release.wait(timeout=10)
        raise pytesseract.TesseractError(1, "stopped")

    monkeypatch.setattr(jobs.extraction, "extract", slow_ocr)
    row = await pending_receipt(client, alice, receipt_bytes())
    try:
        async with job_context(client) as ctx:
            task = asyncio.create_task(jobs.process_receipt(ctx, str(row.id)))
            assert await asyncio.to_thread(started.wait, 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        release.set()
    current = await load_receipt(client, row.id)
    assert current is not None
    assert (current.status, current.attempts, current.error) == (
        "pending",
        1,
        processing.INTERRUPTED,
    )
    assert current.next_attempt_at is not None and current.next_attempt_at <= utcnow()


async def test_undecodable_or_missing_files_fail_at_once(
    client: AppClient[Any], alice: Account
) -> None:
    broken = await pending_receipt(client, alice, truncated_jpeg())
    async with job_context(client) as ctx:
        assert await jobs.process_receipt(ctx, str(broken.id)) == "failed"
    row = await load_receipt(client, broken.id)
    assert row is not None and (row.status, row.attempts) == ("failed", 1)
    assert "damaged" in (row.error or "")

    missing = await insert_receipt(client, alice, status="pending", attempts=0)
    async with job_context(client) as ctx:
        assert await jobs.process_receipt(ctx, str(missing.id)) == "failed"
    row = await load_receipt(client, missing.id)
    assert row is not None and row.error == "the receipt file is missing from storage"

    # Done, failed or deleted receipts are skipped, so a duplicate job changes nothing.
    async with job_context(client) as ctx:
        assert await jobs.process_receipt(ctx, str(missing.id)) == "skipped"
        assert await jobs.process_receipt(ctx, str(uuid.uuid4())) == "skipped"


async def test_receipts_beyond_the_attempt_limit_fail(
    client: AppClient[Any], alice: Account
) -> None:
    """A receipt whose worker keeps getting killed (e.g. OOM on one image) is given up."""
    row = await insert_receipt(client, alice, status="pending", attempts=processing.MAX_ATTEMPTS)
    async with job_context(client) as ctx:
        assert await jobs.process_receipt(ctx, str(row.id)) == "failed"
    current = await load_receipt(client, row.id)
    assert current is not None and "interrupted attempts" in (current.error or "")


async def arq_job_status(job_id: str, queue_name: str) -> JobStatus:
    redis = ArqRedis.from_url(REDIS_URL)
    try:
        return await Job(job_id, redis, _queue_name=queue_name).status()
    finally:
        await redis.aclose()


async def test_sweeper_requeues_stale_processing_with_a_fresh_job_id(
    client: AppClient[Any], alice: Account, base_env: dict[str, str]
) -> None:
    past = utcnow() - dt.timedelta(seconds=1)
    stale = await insert_receipt(
        client, alice, status="processing", attempts=1, next_attempt_at=past
    )
    live = await insert_receipt(
        client,
        alice,
        status="processing",
        attempts=1,
        next_attempt_at=utcnow() + dt.timedelta(minutes=5),
    )
    queue_name = f"{base_env['REDIS_KEY_PREFIX']}queue"
    async with job_context(client) as ctx:
        assert await jobs.sweep_receipts(ctx) == 1
    assert await arq_job_status(f"receipt:{stale.id}:1", queue_name) == JobStatus.queued
    assert await arq_job_status(f"receipt:{live.id}:1", queue_name) == JobStatus.not_found
    row = await load_receipt(client, stale.id)
    assert row is not None and row.status == "pending"
    assert row.next_attempt_at is not None and row.next_attempt_at > utcnow()
    # Queued once: the next sweep leaves it alone during its grace period.
    async with job_context(client) as ctx:
        assert await jobs.sweep_receipts(ctx) == 0


async def test_upload_while_redis_is_down_is_accepted_and_swept_later(
    base_env: dict[str, str],
) -> None:
    working_redis = base_env["REDIS_URL"]
    base_env["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    async with running_app(base_env) as client:
        account = await register(client)
        response = await upload(client, account, receipt_bytes())
        assert response.status_code == 202, response.text
        receipt_id = response.json()["id"]
        assert response.json()["status"] == "pending"
        row = await load_receipt(client, receipt_id)
        assert row is not None and row.next_attempt_at is not None
        assert row.next_attempt_at <= utcnow()  # owed now: the next sweep queues it
        # With Redis still down the sweeper queues nothing and loses nothing.
        async with job_context(client) as ctx:
            assert await jobs.sweep_receipts(ctx) == 0
        assert (await load_receipt(client, receipt_id)).status == "pending"  # type: ignore[union-attr]

    base_env["REDIS_URL"] = working_redis
    async with running_app(base_env) as client, job_context(client) as ctx:
        assert await jobs.sweep_receipts(ctx) == 1
    queue_name = f"{base_env['REDIS_KEY_PREFIX']}queue"
    assert await arq_job_status(f"receipt:{receipt_id}", queue_name) == JobStatus.queued


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(url)
    assert response.status_code == 200
    return response.text


def metric_value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


async def test_worker_process_with_s3_from_upload_to_expense(
    s3_env: dict[str, str], start_worker: Callable[[dict[str, str]], WorkerProcess]
) -> None:
    metrics_port = free_port()
    start_worker({**s3_env, "WORKER_METRICS_PORT": str(metrics_port)})
    async with running_app(s3_env) as client:
        account = await register(client)
        first_data, second_data = receipt_bytes(COMPLETE_RECEIPT), receipt_bytes("minimart.jpg")
        first = (await upload(client, account, first_data)).json()
        second = (await upload(client, account, second_data, filename="b.jpg")).json()
        done = await wait_for_status(client, account, first["id"], timeout=60)
        other = await wait_for_status(client, account, second["id"], timeout=60)
        assert (done["status"], other["status"]) == ("done", "done"), (done, other)
        assert done["attempts"] == 1 and done["error"] is None
        extracted = done["extracted"]
        assert "CAHAYA TIMUR TRADING" in extracted["raw_text"].upper()
        assert extracted["total"] == "14.10" and extracted["date"] == "2017-12-29"
        assert set(extracted["confidence"]) >= {"merchant", "date", "total", "currency"}

        # The object sits in S3, encrypted, under a key made of the ids.
        s3 = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
        key = f"receipts/{account.id}/{first['id']}"
        head = s3.head_object(Bucket=s3_env["AWS_S3_BUCKET"], Key=key)
        assert head["ServerSideEncryption"] == "AES256"

        # Download: a redirect to a short-lived presigned URL serving the original bytes.
        redirect = await client.get(
            f"/api/v1/receipts/{first['id']}/file", headers=account.headers, follow_redirects=False
        )
        assert redirect.status_code == 307, redirect.text
        location = redirect.headers["location"]
        assert location.startswith(s3_env["AWS_ENDPOINT_URL"]) and "Signature" in location
        async with httpx.AsyncClient(timeout=10) as http:
            fetched = await http.get(location)
        assert fetched.status_code == 200 and fetched.content == first_data

        # Search the OCR text.
        found = await client.get(
            "/api/v1/receipts", params={"q": "cahaya timur"}, headers=account.headers
        )
        assert [item["id"] for item in found.json()["items"]] == [first["id"]]

        # confirm: whether this reading needs review is test_routes' business.
        created = await client.post(
            f"/api/v1/receipts/{first['id']}/expense",
            json={"confirm": True},
            headers=account.headers,
        )
        assert created.status_code == 201, created.text
        expense = created.json()
        assert Decimal(expense["amount"]) == Decimal("14.10")
        assert expense["occurred_on"] == "2017-12-29" and expense["receipt_id"] == first["id"]

        # Job metrics from the worker process; receipt gauges from the API.
        worker_metrics = await scrape(f"http://127.0.0.1:{metrics_port}/metrics")
        assert metric_value(worker_metrics, 'jobs_succeeded_total{job="process_receipt"}') == 2
        assert metric_value(worker_metrics, 'jobs_started_total{job="process_receipt"}') == 2
        assert 'job_duration_seconds_count{job="process_receipt"} 2.0' in worker_metrics
        async with job_context(client) as ctx:
            await refresh_gauges(SimpleNamespace(**ctx))
        api_metrics = (await client.get("/metrics")).text
        assert metric_value(api_metrics, 'receipts{status="done"}') == 2
        assert metric_value(api_metrics, 'receipts{status="pending"}') == 0
        assert "job_queue_depth " in api_metrics

        deleted = await client.delete(f"/api/v1/receipts/{first['id']}", headers=account.headers)
        assert deleted.status_code == 204
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=s3_env["AWS_S3_BUCKET"], Key=key)


async def test_killed_worker_mid_job_is_recovered_after_restart(
    base_env: dict[str, str], start_worker: Callable[[dict[str, str]], WorkerProcess]
) -> None:
    lease = 3
    env = {**base_env, "RECEIPT_STALE_SECONDS": str(lease)}
    worker = start_worker(env)
    async with running_app(env) as client:
        account = await register(client)
        receipt_id = (await upload(client, account, receipt_bytes())).json()["id"]
        await wait_for_status(
            client, account, receipt_id, statuses=("processing",), timeout=30, interval=0.02
        )
        worker.kill()
        row = await load_receipt(client, receipt_id)
        assert row is not None and row.status == "processing", "OCR finished before the kill"
        assert row.next_attempt_at is not None
        # Let the dead worker's lease run out, then start a new worker: its start-up sweep
        # re-queues the receipt under a new job id (ARQ still holds the old one in progress).
        await asyncio.sleep(max(0.0, (row.next_attempt_at - utcnow()).total_seconds()) + 0.5)
        started = time.monotonic()
        start_worker(env)
        done = await wait_for_status(client, account, receipt_id, timeout=45)
        assert done["status"] == "done", done
        assert done["attempts"] == 2
        assert done["extracted"]["total"] == "14.10"
        assert time.monotonic() - started < 30


async def test_embedded_default_runs_jobs_in_process(
    sqlite_client: AsyncTestClient[Any],
) -> None:
    account = await register(sqlite_client)
    data = receipt_bytes(COMPLETE_RECEIPT)
    receipt = (await upload(sqlite_client, account, data)).json()
    done = await wait_for_status(sqlite_client, account, receipt["id"], timeout=60)
    assert done["status"] == "done", done
    assert done["extracted"]["total"] == "14.10"
    download = await sqlite_client.get(
        f"/api/v1/receipts/{receipt['id']}/file", headers=account.headers
    )
    assert download.status_code == 200 and download.content == data
    found = await sqlite_client.get(
        "/api/v1/receipts", params={"q": "TRADING"}, headers=account.headers
    )
    assert [item["id"] for item in found.json()["items"]] == [receipt["id"]]
    created = await sqlite_client.post(
        f"/api/v1/receipts/{receipt['id']}/expense",
        json={"tags": ["office"]},
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["amount"] == "14.10" and created.json()["tags"] == ["office"]
    metrics = (await sqlite_client.get("/metrics")).text
    assert metric_value(metrics, 'jobs_succeeded_total{job="process_receipt"}') >= 1
