"""Budgets: monthly spending limits with threshold alerts.

Spending counts the expenses in the budget's currency (never converted), in the calendar month
(UTC), of the budget's category or of every category when it has none.

Expenses call `check_thresholds` after every write: the one hook through which budgets react to
expenses. The amount and currency rules come from `money`, below both.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import api
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.accounts.services import default_currency
from expense_wise.domain.budgets import schemas
from expense_wise.domain.categories.services import ensure_owned
from expense_wise.domain.notifications import templates
from expense_wise.domain.notifications.services import queue_email
from expense_wise.money import changed_amount, checked_amount, checked_currency, format_amount
from expense_wise.quotas import check_quota

# Spending per (category id, currency) in one period.
Totals = dict[tuple[uuid.UUID | None, str], Decimal]


def period_of(day: dt.date) -> tuple[dt.date, dt.date]:
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def current_period() -> tuple[dt.date, dt.date]:
    return period_of(utcnow().date())


def may_alert(occurred_on: dt.date) -> bool:
    """Whether an expense of that day can cross a budget threshold: only the current month's
    spending raises alerts."""
    return period_of(occurred_on) == current_period()


async def spending(
    session: AsyncSession, user_id: uuid.UUID, period: tuple[dt.date, dt.date]
) -> Totals:
    rows = await session.execute(
        select(m.Expense.category_id, m.Expense.currency, func.sum(m.Expense.amount))
        .where(m.Expense.user_id == user_id, m.Expense.occurred_on.between(*period))
        .group_by(m.Expense.category_id, m.Expense.currency)
    )
    return {(category, currency): Decimal(total) for category, currency, total in rows.tuples()}


def spent_on(budget: m.Budget, totals: Totals) -> Decimal:
    return sum(
        (
            total
            for (category, currency), total in totals.items()
            if currency == budget.currency
            and (budget.category_id is None or category == budget.category_id)
        ),
        Decimal(0),
    )


def to_schema(row: m.Budget, totals: Totals, period: tuple[dt.date, dt.date]) -> schemas.Budget:
    spent = spent_on(row, totals)
    return schemas.Budget(
        id=row.id,
        category_id=row.category_id,
        period="monthly",
        amount=format_amount(row.amount, row.currency),
        currency=row.currency,
        alert_thresholds=list(row.alert_thresholds),
        period_start=period[0],
        period_end=period[1],
        spent=format_amount(spent, row.currency),
        remaining=format_amount(row.amount - spent, row.currency),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def to_schemas(
    session: AsyncSession, user_id: uuid.UUID, rows: Sequence[m.Budget]
) -> list[schemas.Budget]:
    period = current_period()
    totals = await spending(session, user_id, period) if rows else {}
    return [to_schema(row, totals, period) for row in rows]


def clean_thresholds(thresholds: Sequence[int]) -> list[int]:
    return sorted(set(thresholds))


async def list_budgets(session: AsyncSession, user_id: uuid.UUID) -> Sequence[m.Budget]:
    return (
        await session.scalars(
            select(m.Budget)
            .where(m.Budget.user_id == user_id)
            .order_by(m.Budget.created_at, m.Budget.id)
        )
    ).all()


async def get_budget(session: AsyncSession, user_id: uuid.UUID, budget_id: uuid.UUID) -> m.Budget:
    return await api.get_owned(session, m.Budget, budget_id, user_id, "budget")


async def create_budget(
    session: AsyncSession, user_id: uuid.UUID, data: schemas.BudgetCreate, quota: int
) -> m.Budget:
    currency = checked_currency(data.currency or await default_currency(session, user_id))
    await ensure_owned(session, user_id, data.category_id, "category_id")
    await check_quota(session, m.Budget, user_id, "budgets", quota)
    row = m.Budget(
        id=uuid.uuid4(),
        user_id=user_id,
        category_id=data.category_id,
        period=data.period,
        amount=checked_amount(data.amount, currency),
        currency=currency,
        alert_thresholds=clean_thresholds(data.alert_thresholds),
    )
    session.add(row)
    await session.flush()
    # A budget set below what was already spent alerts at once.
    await check_thresholds(session, user_id, utcnow().date())
    await session.commit()
    return row


async def update_budget(
    session: AsyncSession, user_id: uuid.UUID, budget_id: uuid.UUID, data: schemas.BudgetUpdate
) -> m.Budget:
    await lock_budgets(session, user_id)
    row = await get_budget(session, user_id, budget_id)
    row.amount, row.currency = changed_amount(row.amount, row.currency, data.amount, data.currency)
    if data.category_id is not msgspec.UNSET:
        await ensure_owned(session, user_id, data.category_id, "category_id")
        row.category_id = data.category_id
    if data.period is not msgspec.UNSET:
        row.period = data.period
    if data.alert_thresholds is not msgspec.UNSET:
        row.alert_thresholds = clean_thresholds(data.alert_thresholds)
    await session.flush()
    await check_thresholds(session, user_id, utcnow().date())
    await session.commit()
    return row


async def delete_budget(session: AsyncSession, user_id: uuid.UUID, budget_id: uuid.UUID) -> None:
    row = await get_budget(session, user_id, budget_id)
    await session.delete(row)
    await session.commit()


def alert_dedupe_key(budget_id: uuid.UUID, period_start: dt.date, threshold: int) -> str:
    return f"budget:{budget_id}:{period_start:%Y-%m}:{threshold}"


async def check_thresholds(session: AsyncSession, user_id: uuid.UUID, occurred_on: dt.date) -> None:
    """Record one alert email per budget threshold the current month's spending has reached.

    Call after writing an expense dated `occurred_on`, before the commit. Past and future
    months raise no alerts. The budget rows are locked (PostgreSQL) before spending is summed,
    so of concurrent writers the last to commit sees every other's expense and no crossing
    goes unnoticed; the dedupe key makes sure only one of them records each alert.
    """
    if not may_alert(occurred_on):
        return
    period = current_period()
    budgets = await lock_budgets(session, user_id)
    if not budgets:
        return
    totals = await spending(session, user_id, period)
    reached = [
        (budget, threshold, spent)
        for budget in budgets
        for spent in [spent_on(budget, totals)]
        for threshold in budget.alert_thresholds
        if spent * 100 >= budget.amount * threshold
    ]
    if not reached:
        return
    keys = [alert_dedupe_key(budget.id, period[0], threshold) for budget, threshold, _ in reached]
    already = set(
        (
            await session.scalars(
                select(m.OutboxEmail.dedupe_key).where(m.OutboxEmail.dedupe_key.in_(keys))
            )
        ).all()
    )
    user = await session.get(m.User, user_id)
    if user is None:
        return
    for (budget, threshold, spent), key in zip(reached, keys, strict=True):
        if key not in already:
            await queue_email(
                session,
                kind="budget_alert",
                to_address=user.email,
                rendered=templates.budget_alert(
                    await _budget_name(session, budget),
                    f"{period[0]:%B %Y}",
                    threshold,
                    format_amount(spent, budget.currency),
                    format_amount(budget.amount, budget.currency),
                    budget.currency,
                ),
                user_id=user_id,
                dedupe_key=key,
            )


async def lock_budgets(session: AsyncSession, user_id: uuid.UUID) -> Sequence[m.Budget]:
    """The user's budgets, locked until the commit in one order (by id), so concurrent
    writers queue up instead of deadlocking. SQLite serialises writers by itself."""
    return (
        await session.scalars(
            select(m.Budget)
            .where(m.Budget.user_id == user_id)
            .order_by(m.Budget.id)
            .with_for_update()
        )
    ).all()


async def _budget_name(session: AsyncSession, budget: m.Budget) -> str:
    if budget.category_id is None:
        return "all spending"
    name = await session.scalar(select(m.Category.name).where(m.Category.id == budget.category_id))
    return name or "a deleted category"
