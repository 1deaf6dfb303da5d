"""Keeps the outbox gauges of this API process current, so its /metrics shows how far mail
delivery is behind even when the worker runs elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from expense_wise.domain.notifications.services import refresh_outbox_metrics
from expense_wise.logging import get_logger

REFRESH_SECONDS = 15.0
log = get_logger(__name__)


async def _refresh_forever(app: Litestar) -> None:
    while True:
        try:
            async with app.state.session_factory() as session:
                await asyncio.wait_for(refresh_outbox_metrics(session), timeout=REFRESH_SECONDS)
        except Exception as error:  # the database may be briefly away; try again later
            log.warning("outbox metrics not refreshed", error=str(error))
        await asyncio.sleep(REFRESH_SECONDS)


@asynccontextmanager
async def outbox_metrics(app: Litestar) -> AsyncIterator[None]:
    task = asyncio.create_task(_refresh_forever(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
