"""Gauges for receipts by status and the job queue's depth.

A Prometheus scrape is synchronous and the database driver is async, so the values cannot be
computed at scrape time. Instead every API process refreshes them in the background (one
GROUP BY and one ZCARD every few seconds) and a scrape reads the last values: at most
REFRESH_SECONDS old, and the same on every replica because they all read the same database
and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from prometheus_client import Gauge

from expense_wise.domain.receipts import services
from expense_wise.logging import get_logger

log = get_logger(__name__)
REFRESH_SECONDS = 15

# "mostrecent": with several server processes (PROMETHEUS_MULTIPROC_DIR) a scrape reports
# the latest value written by any of them instead of adding them up.
RECEIPTS = Gauge(
    "receipts", "Receipts by processing status", ["status"], multiprocess_mode="mostrecent"
)
JOB_QUEUE_DEPTH = Gauge(
    "job_queue_depth", "Background jobs queued and not yet started", multiprocess_mode="mostrecent"
)


async def refresh_gauges(state: Any) -> None:
    async with state.session_factory() as session:
        counts = await services.count_by_status(session)
    for status, count in counts.items():
        RECEIPTS.labels(status).set(count)
    JOB_QUEUE_DEPTH.set(await state.queue.queue_depth())


async def _refresh_forever(state: Any) -> None:
    while True:
        try:
            await refresh_gauges(state)
        except Exception as error:  # a database or Redis hiccup must not end the loop
            log.warning("could not refresh receipt gauges", error=str(error))
        await asyncio.sleep(REFRESH_SECONDS)


@contextlib.asynccontextmanager
async def receipt_gauges(app: Litestar) -> AsyncIterator[None]:
    """App lifespan step (after the one that creates the engine and the queue)."""
    task = asyncio.create_task(_refresh_forever(app.state))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
