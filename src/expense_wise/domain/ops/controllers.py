"""Liveness, readiness and metrics for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

CHECK_TIMEOUT_SECONDS = 2.0


class Health(msgspec.Struct):
    status: str
    uptime_seconds: float


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


async def _check(probe: Any) -> str:
    try:
        await asyncio.wait_for(probe, timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        return f"error: {type(error).__name__}"
    return "ok"


async def _ping_database(state: State) -> None:
    async with state.readiness_engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


class OpsController(Controller):
    tags = ["operations"]
    include_in_schema = True

    @get("/health", operation_id="health", exclude_from_auth=True)
    async def health(self, state: State) -> Health:
        """Liveness: answers without touching any dependency."""
        return Health(
            status="healthy", uptime_seconds=round(time.monotonic() - state.started_at, 3)
        )

    @get(
        "/ready",
        operation_id="ready",
        exclude_from_auth=True,
        responses={503: ResponseSpec(data_container=Readiness, description="Not ready")},
    )
    async def ready(self, state: State) -> Response[Readiness]:
        """Readiness: the database and, where configured, Redis answer."""
        checks = {"database": await _check(_ping_database(state))}
        if state.redis is not None:
            checks["redis"] = await _check(state.redis.ping())
        ok = all(result == "ok" for result in checks.values())
        return Response(
            Readiness(status="ready" if ok else "unavailable", checks=checks),
            status_code=200 if ok else 503,
        )
