"""The monthly summary email: each opted-in user's report of the previous month, recorded in
the outbox once per user and month."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.db import models as m
from expense_wise.domain.expenses.schemas import ExpenseFilters
from expense_wise.domain.notifications import templates
from expense_wise.domain.notifications.services import queue_email
from expense_wise.domain.reports.services import summary

SUMMARY_BATCH = 200


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """'2026-10' -> (2026-10-01, 2026-10-31)."""
    first = dt.date.fromisoformat(f"{month}-01")
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def previous_month(today: dt.date) -> str:
    return (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def summary_dedupe_key(user_id: uuid.UUID, month: str) -> str:
    return f"monthly-summary:{user_id}:{month}"


async def queue_monthly_summaries(session: AsyncSession, month: str) -> int:
    """Record the summary of `month` for every opted-in user with expenses in it who has not
    had it yet; returns how many were recorded. The dedupe key makes re-runs harmless."""
    first, last = month_bounds(month)
    queued = 0
    after: uuid.UUID | None = None
    while True:
        query = (
            select(m.User)
            .where(m.User.monthly_summary.is_(True))
            .order_by(m.User.id)
            .limit(SUMMARY_BATCH)
        )
        if after is not None:
            query = query.where(m.User.id > after)
        users = (await session.scalars(query)).all()
        if not users:
            return queued
        after = users[-1].id
        keys = {summary_dedupe_key(user.id, month): user for user in users}
        done = set(
            (
                await session.scalars(
                    select(m.OutboxEmail.dedupe_key).where(m.OutboxEmail.dedupe_key.in_(keys))
                )
            ).all()
        )
        for key, user in keys.items():
            if key in done:
                continue
            report = await summary(
                session, user.id, ExpenseFilters(date_from=first, date_to=last), "category"
            )
            if not report.totals:
                continue  # nothing recorded that month: no mail
            rendered = templates.monthly_summary(
                first.strftime("%B %Y"),
                [
                    templates.SummaryLine("Total", line.currency, line.total, line.count)
                    for line in report.totals
                ],
                [
                    templates.SummaryLine(group.label, group.currency, group.total, group.count)
                    for group in report.groups
                ],
                "You receive this summary once a month. To stop it, send "
                'PATCH /api/v1/me {"monthly_summary": false}.',
            )
            if await queue_email(
                session,
                kind="monthly_summary",
                to_address=user.email,
                rendered=rendered,
                user_id=user.id,
                dedupe_key=key,
            ):
                queued += 1
        await session.commit()
