"""Gauges for receipts by status, the oldest unfinished receipt, and the job queue.

A Prometheus scrape is synchronous and the database driver is async, so the values cannot be
computed at scrape time. Instead every API process refreshes them in the background (one
GROUP BY and one ZCARD every few seconds) and a scrape reads the last values: at most
REFRESH_SECONDS old, and the same on every replica because they all read the same database
and Redis.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar
from prometheus_client import Gauge

from expense_wise.domain.receipts import processing
from expense_wise.periodic import periodically

REFRESH_SECONDS = 15

# "mostrecent": with several server processes (PROMETHEUS_MULTIPROC_DIR) a scrape reports
# the latest value written by any of them instead of adding them up.
RECEIPTS = Gauge(
    "receipts", "Receipts by processing status", ["status"], multiprocess_mode="mostrecent"
)
RECEIPTS_OLDEST_PENDING_AGE = Gauge(
    "receipts_oldest_pending_age_seconds",
    "Age of the oldest receipt still pending or processing (0 when none is)",
    multiprocess_mode="mostrecent",
)
JOB_QUEUE_DEPTH = Gauge(
    "job_queue_depth", "Background jobs queued and not yet started", multiprocess_mode="mostrecent"
)
JOB_QUEUE_OLDEST_AGE = Gauge(
    "job_queue_oldest_age_seconds",
    "How long the longest-waiting due job has waited to start (0 when none waits)",
    multiprocess_mode="mostrecent",
)


async def refresh_gauges(state: Any) -> None:
    async with state.session_factory() as session:
        counts = await processing.count_by_status(session)
        oldest_pending = await processing.oldest_unfinished_age(session)
    for status, count in counts.items():
        RECEIPTS.labels(status).set(count)
    RECEIPTS_OLDEST_PENDING_AGE.set(oldest_pending)
    JOB_QUEUE_DEPTH.set(await state.queue.queue_depth())
    JOB_QUEUE_OLDEST_AGE.set(await state.queue.oldest_wait_seconds())


def receipt_gauges(app: Litestar) -> AbstractAsyncContextManager[None]:
    """App lifespan step (after the one that creates the engine and the queue)."""
    return periodically("receipt gauges", lambda: refresh_gauges(app.state), REFRESH_SECONDS)
