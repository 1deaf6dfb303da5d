"""Email jobs: send one outbox email, flush whatever is due, and the monthly summary."""

from __future__ import annotations

import uuid
from typing import Any

from arq import Retry
from sqlalchemy.exc import SQLAlchemyError

from expense_wise.db.types import utcnow
from expense_wise.domain.notifications import services
from expense_wise.domain.notifications.mailer import Mailer, create_mailer
from expense_wise.settings import Settings
from expense_wise.unit_of_work import job_session

FLUSH_INTERVAL_SECONDS = 30
# A reset request is retried through a database outage of about this long in total.
RESET_RETRY_SECONDS = (5, 10, 20, 40)


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


async def send_password_reset(ctx: dict[str, Any], email: str) -> None:
    """Queued by every reset request, for any address: record the token and its mail if an
    account has `email` (the outbox then sends it), nothing otherwise."""
    try:
        async with job_session(ctx) as session:
            await services.mail_password_reset(session, ctx["settings"], email)
    except SQLAlchemyError as error:
        job_try = int(ctx.get("job_try") or 1)
        if job_try > len(RESET_RETRY_SECONDS):
            raise
        raise Retry(defer=RESET_RETRY_SECONDS[job_try - 1]) from error


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


async def send_monthly_summaries(ctx: dict[str, Any], month: str | None = None) -> int:
    """Record the previous month's summary (or `month`, 'YYYY-MM') for every opted-in user and
    queue their sending. Runs hourly on the 1st to 3rd, so a worker that was down at the start
    of the month still sends it; each user gets it once."""
    month = month or services.previous_month(utcnow().date())
    async with job_session(ctx) as session:
        return await services.queue_monthly_summaries(session, month)
