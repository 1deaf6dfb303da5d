"""Readiness: whether this process can reach the database and Redis.

`GET /ready` answers it for load balancers and orchestrators; a background loop asks the same
question every few seconds and publishes the answer as `readiness_check_ok{check}`, so an
alert sees a failing dependency even where nothing probes /ready (a single host).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from sqlalchemy import text

from expense_wise import metrics
from expense_wise.periodic import periodically

CHECK_TIMEOUT_SECONDS = 2.0
REFRESH_SECONDS = 10.0


async def _check(probe: Awaitable[Any]) -> str:
    try:
        await asyncio.wait_for(probe, timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        return f"error: {type(error).__name__}"
    return "ok"


async def _ping_database(state: State) -> None:
    # Its own connection, not one from the request pool: a saturated pool must not make
    # the instance look unready (that is what the pool alerts are for).
    async with state.readiness_engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def check_dependencies(state: State) -> dict[str, str]:
    """'ok' or 'error: <type>' per dependency; also updates the readiness gauges."""
    checks = {"database": await _check(_ping_database(state))}
    if state.redis is not None:
        checks["redis"] = await _check(state.redis.ping())
    for name, result in checks.items():
        metrics.READINESS_CHECK_OK.labels(name).set(1 if result == "ok" else 0)
    return checks


def readiness_gauges(app: Litestar) -> AbstractAsyncContextManager[None]:
    """App lifespan step (after the one that creates the engine and Redis client)."""

    async def refresh() -> None:
        await check_dependencies(app.state)

    return periodically("readiness gauges", refresh, REFRESH_SECONDS)
