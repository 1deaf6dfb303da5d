"""The conditions of the expense filters, shared by the list, the CSV export and the reports."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, cast, exists, func, or_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.dates import checked_date
from expense_wise.db import models as m
from expense_wise.domain.expenses import schemas
from expense_wise.money import checked_bound, checked_currency


def tag_condition(dialect: str, tag: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return cast(m.Expense.tags, JSONB).contains([tag])
    values = func.json_each(m.Expense.tags).table_valued("value")
    return exists().select_from(values).where(values.c.value == tag)


def filter_conditions(
    dialect: str, user_id: uuid.UUID, filters: schemas.ExpenseFilters
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [m.Expense.user_id == user_id]
    for field, day in (("from", filters.date_from), ("to", filters.date_to)):
        if day is not None:
            checked_date(day, field)
    if filters.date_from is not None:
        conditions.append(m.Expense.occurred_on >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(m.Expense.occurred_on <= filters.date_to)
    if filters.category_id is not None:
        conditions.append(m.Expense.category_id == filters.category_id)
    if filters.tag:
        conditions.append(tag_condition(dialect, filters.tag))
    if filters.q:
        text = filters.q.strip().lower()
        conditions.append(
            or_(
                func.lower(m.Expense.merchant).contains(text, autoescape=True),
                func.lower(m.Expense.note).contains(text, autoescape=True),
            )
        )
    if filters.currency:
        conditions.append(m.Expense.currency == checked_currency(filters.currency))
    for field, value, compare in (
        ("min_amount", filters.min_amount, m.Expense.amount.__ge__),
        ("max_amount", filters.max_amount, m.Expense.amount.__le__),
    ):
        if value is not None:
            conditions.append(compare(checked_bound(value, field)))
    return conditions


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name
