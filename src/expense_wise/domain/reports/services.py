"""Summaries of spending: exact decimal totals per group and per currency, never mixing
currencies."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.db import models as m
from expense_wise.domain.expenses.schemas import ExpenseFilters
from expense_wise.domain.expenses.services import dialect_of, filter_conditions
from expense_wise.domain.reports import schemas
from expense_wise.money import format_amount

UNCATEGORIZED = "Uncategorized"
Totals = dict[tuple[str | None, str], list[Decimal | int]]


async def _grouped_in_database(
    session: AsyncSession, user_id: uuid.UUID, filters: ExpenseFilters, group_by: str
) -> Totals:
    conditions = filter_conditions(dialect_of(session), user_id, filters)
    key: Any
    if group_by == "category":
        key = m.Expense.category_id
    elif dialect_of(session) == "postgresql":
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
) -> Totals:
    # Tags live in a JSON list; unnesting it differs per database, so sum in Python (exact).
    totals: Totals = defaultdict(lambda: [Decimal(0), 0])
    result = await session.stream(
        select(m.Expense.tags, m.Expense.currency, m.Expense.amount).where(
            and_(*filter_conditions(dialect_of(session), user_id, filters))
        )
    )
    async for tags, currency, amount in result:
        for tag in tags or [None]:
            entry = totals[(tag, currency)]
            entry[0] += amount
            entry[1] += 1
    return dict(totals)


async def summary(
    session: AsyncSession, user_id: uuid.UUID, filters: ExpenseFilters, group_by: str
) -> schemas.Summary:
    if group_by == "tag":
        grouped = await _grouped_by_tag(session, user_id, filters)
    else:
        grouped = await _grouped_in_database(session, user_id, filters, group_by)
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
            else (UNCATEGORIZED if group_by == "category" else "(untagged)") or "",
            currency=currency,
            total=format_amount(Decimal(total), currency),
            count=int(count),
        )
        for (key, currency), (total, count) in grouped.items()
    ]
    groups.sort(key=lambda group: (group.key is None, group.label, group.currency))

    per_currency: dict[str, list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0])
    if group_by == "tag":
        # An expense with two tags appears in two groups but counts once in the totals.
        result = await session.execute(
            select(m.Expense.currency, func.sum(m.Expense.amount), func.count())
            .where(and_(*filter_conditions(dialect_of(session), user_id, filters)))
            .group_by(m.Expense.currency)
        )
        for currency, currency_total, currency_count in result.tuples():
            per_currency[currency] = [currency_total, currency_count]
    else:
        for (_key, currency), (total, count) in grouped.items():
            per_currency[currency][0] += total
            per_currency[currency][1] += count
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
