"""The periodic job that turns recurring expenses into expenses, catching up after downtime."""

from __future__ import annotations

import uuid
from typing import Any

from expense_wise import metrics
from expense_wise.db.types import utcnow
from expense_wise.domain.recurring import services
from expense_wise.unit_of_work import job_session

GENERATE_INTERVAL_SECONDS = 900


async def generate_recurring_expenses(ctx: dict[str, Any], recurring_id: str | None = None) -> int:
    """Create every occurrence due up to today (UTC) of one template (`recurring_id`, queued
    when a template is created or changed) or of all; returns how many were created."""
    today = utcnow().date()
    if recurring_id is not None:
        ids: list[uuid.UUID] = [uuid.UUID(recurring_id)]
    else:
        async with job_session(ctx) as session:
            ids = list(await services.due_recurring_ids(session, today))
    created = 0
    for template_id in ids:
        async with job_session(ctx) as session:
            count = await services.generate_occurrences(session, template_id, today)
        metrics.RECURRING_OCCURRENCES_CREATED.inc(count)
        created += count
    return created
