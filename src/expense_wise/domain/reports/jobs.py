"""The monthly summary job."""

from __future__ import annotations

from typing import Any

from expense_wise.db.types import utcnow
from expense_wise.domain.reports import summaries
from expense_wise.unit_of_work import job_session


async def send_monthly_summaries(ctx: dict[str, Any], month: str | None = None) -> int:
    """Record the previous month's summary (or `month`, 'YYYY-MM') for every opted-in user and
    queue their sending. Runs hourly on the 1st to 3rd, so a worker that was down at the start
    of the month still sends it; each user gets it once."""
    month = month or summaries.previous_month(utcnow().date())
    async with job_session(ctx) as session:
        return await summaries.queue_monthly_summaries(session, month)
