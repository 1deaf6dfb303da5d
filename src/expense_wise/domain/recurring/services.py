"""Recurring expenses: templates, and the generation of their occurrences as expenses.

Each occurrence is an expense with `recurring_id` and `recurring_occurrence` (its scheduled
date), unique together, so generating twice — two workers, a retry, a catch-up after downtime
— never creates one twice. `generated_through` only saves work: the constraint is the guard.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import api
from expense_wise.dates import checked_date
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.accounts.services import default_currency
from expense_wise.domain.budgets.services import check_thresholds
from expense_wise.domain.categories.services import ensure_owned
from expense_wise.domain.expenses.filters import dialect_of
from expense_wise.domain.expenses.rules import checked_merchant, clean_tags, merchant_key
from expense_wise.domain.expenses.services import apply_detail_changes
from expense_wise.domain.recurring import schemas
from expense_wise.domain.recurring.schedule import Schedule, next_occurrence, occurrences
from expense_wise.money import changed_amount, checked_amount, checked_currency, format_amount
from expense_wise.quotas import check_quota
from expense_wise.settings import QuotaSettings
from expense_wise.unit_of_work import enqueue_after_commit

# Occurrences created per template and run; a long catch-up continues on the next run.
MAX_OCCURRENCES_PER_RUN = 500
DUE_BATCH = 10_000


def schedule_of(row: m.RecurringExpense) -> Schedule:
    return Schedule(row.frequency, row.interval, row.starts_on, row.ends_on)


def to_schema(row: m.RecurringExpense) -> schemas.RecurringExpense:
    return schemas.RecurringExpense(
        id=row.id,
        amount=format_amount(row.amount, row.currency),
        currency=row.currency,
        merchant=row.merchant,
        category_id=row.category_id,
        note=row.note,
        tags=list(row.tags or []),
        payment_method=row.payment_method,
        frequency=row.frequency,  # type: ignore[arg-type]
        interval=row.interval,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        generated_through=row.generated_through,
        next_occurrence=next_occurrence(schedule_of(row), row.generated_through),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_dates(starts_on: dt.date, ends_on: dt.date | None, backfill_days: int) -> None:
    checked_date(starts_on, "starts_on")
    if ends_on is not None:
        checked_date(ends_on, "ends_on")
    # Every occurrence since starts_on becomes an expense: a start far back would let one
    # request create thousands of them.
    if starts_on < utcnow().date() - dt.timedelta(days=backfill_days):
        raise api.field_error(
            "starts_on", f"must be at most {backfill_days} days ago (RECURRING_MAX_BACKFILL_DAYS)"
        )
    if ends_on is not None and ends_on < starts_on:
        raise api.field_error("ends_on", "must not be before starts_on")


async def list_recurring(session: AsyncSession, user_id: uuid.UUID) -> Sequence[m.RecurringExpense]:
    return (
        await session.scalars(
            select(m.RecurringExpense)
            .where(m.RecurringExpense.user_id == user_id)
            .order_by(m.RecurringExpense.created_at, m.RecurringExpense.id)
        )
    ).all()


async def get_recurring(
    session: AsyncSession, user_id: uuid.UUID, recurring_id: uuid.UUID
) -> m.RecurringExpense:
    return await api.get_owned(
        session, m.RecurringExpense, recurring_id, user_id, "recurring expense"
    )


def _generate_soon(session: AsyncSession, recurring_id: uuid.UUID) -> None:
    """Create the occurrences already due without waiting for the periodic run (which
    creates them anyway should this not get queued)."""
    enqueue_after_commit(session, "generate_recurring_expenses", str(recurring_id))


async def create_recurring(
    session: AsyncSession,
    user_id: uuid.UUID,
    data: schemas.RecurringExpenseCreate,
    quotas: QuotaSettings,
) -> m.RecurringExpense:
    currency = checked_currency(data.currency or await default_currency(session, user_id))
    await ensure_owned(session, user_id, data.category_id, "category_id")
    _check_dates(data.starts_on, data.ends_on, quotas.recurring_backfill_days)
    await check_quota(
        session, m.RecurringExpense, user_id, "recurring expenses", quotas.recurring_expenses
    )
    row = m.RecurringExpense(
        id=uuid.uuid4(),
        user_id=user_id,
        amount=checked_amount(data.amount, currency),
        currency=currency,
        merchant=checked_merchant(data.merchant),
        category_id=data.category_id,
        note=data.note,
        tags=clean_tags(data.tags),
        payment_method=data.payment_method,
        frequency=data.frequency,
        interval=data.interval,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
    )
    session.add(row)
    _generate_soon(session, row.id)
    await session.commit()
    return row


async def update_recurring(
    session: AsyncSession,
    user_id: uuid.UUID,
    recurring_id: uuid.UUID,
    data: schemas.RecurringExpenseUpdate,
    backfill_days: int,
) -> m.RecurringExpense:
    """Changes apply to occurrences not generated yet; existing expenses stay as they are."""
    row = await get_recurring(session, user_id, recurring_id)
    row.amount, row.currency = changed_amount(row.amount, row.currency, data.amount, data.currency)
    if data.merchant is not msgspec.UNSET:
        row.merchant = checked_merchant(data.merchant)
    await apply_detail_changes(session, user_id, row, data)
    if data.frequency is not msgspec.UNSET:
        row.frequency = data.frequency
    if data.interval is not msgspec.UNSET:
        row.interval = data.interval
    starts_on = row.starts_on if data.starts_on is msgspec.UNSET else data.starts_on
    ends_on = row.ends_on if data.ends_on is msgspec.UNSET else data.ends_on
    if starts_on != row.starts_on or ends_on != row.ends_on:
        _check_dates(starts_on, ends_on, backfill_days)
    row.starts_on, row.ends_on = starts_on, ends_on
    _generate_soon(session, row.id)
    await session.commit()
    return row


async def delete_recurring(
    session: AsyncSession, user_id: uuid.UUID, recurring_id: uuid.UUID
) -> None:
    """Stops future occurrences; expenses already created stay (unlinked)."""
    row = await get_recurring(session, user_id, recurring_id)
    await session.delete(row)
    await session.commit()


# --- Generation --------------------------------------------------------------------------


async def due_recurring_ids(session: AsyncSession, today: dt.date) -> Sequence[uuid.UUID]:
    """Templates that may owe an occurrence up to `today`."""
    generated = m.RecurringExpense.generated_through
    return (
        await session.scalars(
            select(m.RecurringExpense.id)
            .where(
                m.RecurringExpense.starts_on <= today,
                or_(generated.is_(None), generated < today),
                or_(
                    m.RecurringExpense.ends_on.is_(None),
                    generated.is_(None),
                    generated < m.RecurringExpense.ends_on,
                ),
            )
            .order_by(m.RecurringExpense.id)
            .limit(DUE_BATCH)
        )
    ).all()


async def generate_occurrences(
    session: AsyncSession, recurring_id: uuid.UUID, today: dt.date
) -> int:
    """Create the occurrences due up to `today` not created yet; returns how many were
    created. The caller commits."""
    row = await session.scalar(
        select(m.RecurringExpense)
        .where(m.RecurringExpense.id == recurring_id)
        .with_for_update()  # concurrent runs for one template wait rather than race
        .execution_options(populate_existing=True)
    )
    if row is None:
        return 0
    dates = occurrences(schedule_of(row), row.generated_through, today, MAX_OCCURRENCES_PER_RUN)
    created = 0
    if dates:
        now = utcnow()
        insert = postgresql_insert if dialect_of(session) == "postgresql" else sqlite_insert
        values: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4(),
                "user_id": row.user_id,
                "amount": row.amount,
                "currency": row.currency,
                "occurred_on": day,
                "merchant": row.merchant,
                "merchant_key": merchant_key(row.merchant),
                "category_id": row.category_id,
                "note": row.note,
                "tags": list(row.tags or []),
                "payment_method": row.payment_method,
                "recurring_id": row.id,
                "recurring_occurrence": day,
                "created_at": now,
                "updated_at": now,
            }
            for day in dates
        ]
        inserted = await session.scalars(
            insert(m.Expense)
            .values(values)
            .on_conflict_do_nothing(index_elements=["recurring_id", "recurring_occurrence"])
            .returning(m.Expense.id)
        )
        created = len(inserted.all())
    capped = len(dates) == MAX_OCCURRENCES_PER_RUN
    row.generated_through = dates[-1] if capped else max(today, row.generated_through or today)
    if created:
        await check_thresholds(session, row.user_id, today)
    return created
