"""Liveness, readiness and metrics for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

import time

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from expense_wise.domain.ops.readiness import check_dependencies


class Health(msgspec.Struct):
    status: str
    uptime_seconds: float


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


class OpsController(Controller):
    tags = ["operations"]
    include_in_schema = True

    @get("/health", operation_id="health", summary="Check liveness", exclude_from_auth=True)
    async def health(self, state: State) -> Health:
        """Liveness: answers without touching any dependency."""
        return Health(
            status="healthy", uptime_seconds=round(time.monotonic() - state.started_at, 3)
        )

    @get(
        "/ready",
        operation_id="ready",
        summary="Check readiness",
        exclude_from_auth=True,
        responses={503: ResponseSpec(data_container=Readiness, description="Not ready")},
    )
    async def ready(self, state: State) -> Response[Readiness]:
        """Readiness: the database and, where configured, Redis answer."""
        checks = await check_dependencies(state)
        ok = all(result == "ok" for result in checks.values())
        return Response(
            Readiness(status="ready" if ok else "unavailable", checks=checks),
            status_code=200 if ok else 503,
        )
