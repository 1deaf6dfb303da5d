"""Summaries of spending: exact decimal totals per group and per currency, never mixing
currencies."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.db import models as m
from expense_wise.domain.expenses.filters import dialect_of, filter_conditions
from expense_wise.domain.expenses.schemas import ExpenseFilters
from expense_wise.domain.reports import schemas
from expense_wise.money import format_amount

UNCATEGORIZED = "Uncategorized"
UNTAGGED = "(untagged)"
Totals = dict[tuple[str | None, str], list[Decimal | int]]  # (key, currency) -> [total, count]
CurrencyTotals = dict[str, list[Decimal | int]]  # currency -> [total, count]


async def _grouped_in_database(
    session: AsyncSession, user_id: uuid.UUID, filters: ExpenseFilters, group_by: str
) -> Totals:
    dialect = dialect_of(session)
    conditions = filter_conditions(dialect, user_id, filters)
    key: Any
    if group_by == "category":
        key = m.Expense.category_id
    elif dialect == "postgresql":
        key = func.to_char(m.Expense.occurred_on, "YYYY-MM")
    else:
        key = func.strftime("%Y-%m", m.Expense.occurred_on)
    rows = await session.execute(
        select(key, m.Expense.currency, func.sum(m.Expense.amount), func.count())
        .where(and_(*conditions))
        .group_by(key, m.Expense.currency)
    )
    return {
        (str(group) if group is not None else None, currency): [total, count]
        for group, currency, total, count in rows.tuples()
    }


async def _grouped_by_tag(
    session: AsyncSession, user_id: uuid.UUID, filters: ExpenseFilters
) -> tuple[Totals, CurrencyTotals]:
    """Totals per (tag, currency), and per currency with each expense counted once.

    One pass in the database: every expense is joined to the elements of its tag list (an
    untagged one to a single NULL), and the rows of first elements add up to the per-currency
    totals. Only the groups come back, whatever the number of expenses."""
    dialect = dialect_of(session)
    tags: Any
    if dialect == "postgresql":
        tags = (
            func.json_array_elements_text(m.Expense.tags)
            .table_valued("value", with_ordinality="position")
            .render_derived(name="tags")
            .lateral()
        )
        first_position = 1
    else:  # SQLite's json_each numbers array elements from 0 in `key`
        tags = func.json_each(m.Expense.tags).table_valued("value", "key")
        first_position = 0
    position = tags.c.position if dialect == "postgresql" else tags.c.key
    once = or_(position.is_(None), position == first_position)
    amount = func.sum(m.Expense.amount)
    rows = await session.execute(
        select(
            tags.c.value,
            m.Expense.currency,
            amount,
            func.count(),
            amount.filter(once),
            func.count().filter(once),
        )
        .select_from(m.Expense)
        .outerjoin(tags, true())
        .where(and_(*filter_conditions(dialect, user_id, filters)))
        .group_by(tags.c.value, m.Expense.currency)
    )
    groups: Totals = {}
    per_currency: CurrencyTotals = defaultdict(lambda: [Decimal(0), 0])
    for tag, currency, total, count, total_once, count_once in rows.tuples():
        groups[(tag, currency)] = [total, count]
        per_currency[currency][0] += total_once or 0
        per_currency[currency][1] += count_once
    return groups, per_currency


def _per_currency(grouped: Totals) -> CurrencyTotals:
    totals: CurrencyTotals = defaultdict(lambda: [Decimal(0), 0])
    for (_key, currency), (total, count) in grouped.items():
        totals[currency][0] += total
        totals[currency][1] += count
    return totals


async def summary(
    session: AsyncSession, user_id: uuid.UUID, filters: ExpenseFilters, group_by: str
) -> schemas.Summary:
    if group_by == "tag":
        grouped, per_currency = await _grouped_by_tag(session, user_id, filters)
    else:
        grouped = await _grouped_in_database(session, user_id, filters, group_by)
        per_currency = _per_currency(grouped)
    labels: dict[str | None, str] = {}
    if group_by == "category":
        names = await session.execute(
            select(m.Category.id, m.Category.name).where(m.Category.user_id == user_id)
        )
        labels = {str(category_id): name for category_id, name in names.tuples()}

    groups = [
        schemas.Group(
            key=key,
            label=labels.get(key, key)
            if key is not None
            else (UNCATEGORIZED if group_by == "category" else UNTAGGED),
            currency=currency,
            total=format_amount(Decimal(total), currency),
            count=int(count),
        )
        for (key, currency), (total, count) in grouped.items()
    ]
    groups.sort(key=lambda group: (group.key is None, group.label, group.currency))
    totals = [
        schemas.CurrencyTotal(
            currency=currency, total=format_amount(Decimal(total), currency), count=int(count)
        )
        for currency, (total, count) in sorted(per_currency.items())
    ]
    return schemas.Summary(
        from_=filters.date_from,
        to=filters.date_to,
        group_by=group_by,  # type: ignore[arg-type]
        groups=groups,
        totals=totals,
    )
