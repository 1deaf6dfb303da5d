"""Small background loops that live as long as the app (e.g. keeping gauges current)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from expense_wise.logging import get_logger

log = get_logger(__name__)
STOP_TIMEOUT_SECONDS = 5.0


@contextlib.asynccontextmanager
async def periodically(
    name: str, refresh: Callable[[], Awaitable[None]], every_seconds: float
) -> AsyncIterator[None]:
    """Run `refresh` now and every `every_seconds` while the block runs.

    Failures are logged and retried at the next tick. Stopping is bounded: a refresh that
    swallows its cancellation (asyncio.wait_for in Python 3.11 can) must not hang shutdown.
    """
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(refresh(), timeout=every_seconds)
            except Exception as error:  # a database or Redis hiccup must not end the loop
                log.warning("periodic refresh failed", task=name, error=str(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
