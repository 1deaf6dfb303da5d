"""Email jobs: send one outbox email, and flush whatever is due."""

from __future__ import annotations

import uuid
from typing import Any

from expense_wise.domain.notifications import services
from expense_wise.domain.notifications.mailer import Mailer, create_mailer
from expense_wise.settings import Settings
from expense_wise.unit_of_work import job_session

FLUSH_INTERVAL_SECONDS = 30


def _mailer(ctx: dict[str, Any]) -> Mailer:
    mailer: Mailer | None = ctx.get("mailer")
    if mailer is None:
        settings: Settings = ctx["settings"]
        mailer = ctx["mailer"] = create_mailer(settings.email)
    return mailer


async def send_email(ctx: dict[str, Any], email_id: str) -> bool:
    """Send one outbox email (queued after the commit that recorded it). A failure is recorded
    in the row with its next attempt time; `flush_outbox` retries it, so a failed send needs no
    retry of this job."""
    async with job_session(ctx) as session:
        return await services.deliver(session, _mailer(ctx), ctx["settings"], uuid.UUID(email_id))


async def flush_outbox(ctx: dict[str, Any]) -> int:
    """Send every due pending email (a lost job, a Redis outage, a retry after backoff), then
    refresh the outbox gauges; returns how many were sent."""
    sent = 0
    async with job_session(ctx) as session:
        for email_id in await services.due_email_ids(session):
            if await services.deliver(session, _mailer(ctx), ctx["settings"], email_id):
                sent += 1
        await services.refresh_outbox_metrics(session)
    return sent
