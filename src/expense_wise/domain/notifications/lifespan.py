"""Keeps the outbox gauges of this API process current, so its /metrics shows how far mail
delivery is behind even when the worker runs elsewhere."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from expense_wise.domain.notifications.services import refresh_outbox_metrics
from expense_wise.periodic import periodically

REFRESH_SECONDS = 15.0


def outbox_metrics(app: Litestar) -> AbstractAsyncContextManager[None]:
    async def refresh() -> None:
        async with app.state.session_factory() as session:
            await refresh_outbox_metrics(session)

    return periodically("outbox gauges", refresh, REFRESH_SECONDS)
