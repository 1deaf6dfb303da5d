"""Expenses: create, list with filters and keyset pagination, update, delete."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import (
    ColumnElement,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import api
from expense_wise.db import models as m
from expense_wise.domain.budgets import services as budgets
from expense_wise.domain.categories.services import ensure_owned
from expense_wise.domain.expenses import schemas
from expense_wise.money import (
    AmountError,
    format_amount,
    is_currency,
    parse_amount,
    parse_bound,
)

_NON_WORD = re.compile(r"[^\w]+")
DUPLICATE_WINDOW_DAYS = 1
USUAL_CATEGORY_WINDOW = 50


def merchant_key(merchant: str) -> str:
    """Case, punctuation and spacing do not make two merchants different."""
    return " ".join(_NON_WORD.sub(" ", merchant.casefold()).split())[:200]


def to_schema(row: m.Expense | Row[Any]) -> schemas.Expense:
    """From an Expense, or a row of its response columns."""
    return schemas.Expense(
        id=row.id,
        amount=format_amount(row.amount, row.currency),
        currency=row.currency,
        occurred_on=row.occurred_on,
        merchant=row.merchant,
        category_id=row.category_id,
        note=row.note,
        tags=row.tags or [],
        payment_method=row.payment_method,
        receipt_id=row.receipt_id,
        recurring_id=row.recurring_id,
        possible_duplicate_of=row.possible_duplicate_of,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def checked_currency(currency: str, field: str = "currency") -> str:
    if not is_currency(currency):
        raise api.field_error(field, f"{currency!r} is not an ISO 4217 currency code")
    return currency


def checked_amount(value: Any, currency: str, field: str = "amount") -> Decimal:
    try:
        return parse_amount(value, currency)
    except AmountError as error:
        raise api.field_error(field, str(error)) from error


def checked_bound(value: str, field: str) -> Decimal:
    """A filter bound: any non-negative decimal the database can hold, whatever the currency."""
    try:
        return parse_bound(value)
    except AmountError as error:
        raise api.field_error(field, str(error)) from error


def clean_tags(tags: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = " ".join(tag.split())
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


async def default_currency(session: AsyncSession, user_id: uuid.UUID) -> str:
    currency = await session.scalar(select(m.User.default_currency).where(m.User.id == user_id))
    if currency is None:
        raise api.ApiError(401, "account no longer exists")
    return currency


async def usual_category(session: AsyncSession, user_id: uuid.UUID, key: str) -> uuid.UUID | None:
    """The category this user most often chose for this (normalised) merchant among the
    recent expenses there: bounded work per expense, and changed habits win."""
    recent = (
        select(m.Expense.category_id, m.Expense.created_at)
        .where(
            m.Expense.user_id == user_id,
            m.Expense.merchant_key == key,
            m.Expense.category_id.is_not(None),
        )
        .order_by(m.Expense.created_at.desc())
        .limit(USUAL_CATEGORY_WINDOW)
        .subquery()
    )
    category_id: uuid.UUID | None = await session.scalar(
        select(recent.c.category_id)
        .group_by(recent.c.category_id)
        .order_by(func.count().desc(), func.max(recent.c.created_at).desc())
        .limit(1)
    )
    return category_id


async def find_possible_duplicate(session: AsyncSession, row: m.Expense) -> uuid.UUID | None:
    window = dt.timedelta(days=DUPLICATE_WINDOW_DAYS)
    query = select(m.Expense.id).where(
        m.Expense.user_id == row.user_id,
        m.Expense.merchant_key == row.merchant_key,
        m.Expense.amount == row.amount,
        m.Expense.currency == row.currency,
        m.Expense.occurred_on.between(row.occurred_on - window, row.occurred_on + window),
    )
    if row.id is not None:
        query = query.where(m.Expense.id != row.id)
    duplicate_id: uuid.UUID | None = await session.scalar(
        query.order_by(m.Expense.created_at).limit(1)
    )
    return duplicate_id


async def build_expense(
    session: AsyncSession, user_id: uuid.UUID, data: schemas.ExpenseCreate
) -> m.Expense:
    """A validated, not yet added, expense with category and duplicate hints filled in."""
    currency = checked_currency(data.currency or await default_currency(session, user_id))
    amount = checked_amount(data.amount, currency)
    await ensure_owned(session, user_id, data.category_id, "category_id")
    key = merchant_key(data.merchant)
    row = m.Expense(
        id=uuid.uuid4(),
        user_id=user_id,
        amount=amount,
        currency=currency,
        occurred_on=data.occurred_on,
        merchant=data.merchant.strip(),
        merchant_key=key,
        category_id=data.category_id or await usual_category(session, user_id, key),
        note=data.note,
        tags=clean_tags(data.tags),
        payment_method=data.payment_method,
    )
    row.possible_duplicate_of = await find_possible_duplicate(session, row)
    return row


async def create_expense(
    session: AsyncSession, user_id: uuid.UUID, data: schemas.ExpenseCreate
) -> m.Expense:
    row = await build_expense(session, user_id, data)
    session.add(row)
    await session.flush()
    await budgets.check_thresholds(session, user_id, row.occurred_on)
    return row


async def get_expense(
    session: AsyncSession, user_id: uuid.UUID, expense_id: uuid.UUID
) -> m.Expense:
    return await api.get_owned(session, m.Expense, expense_id, user_id, "expense")


async def update_expense(
    session: AsyncSession, user_id: uuid.UUID, expense_id: uuid.UUID, data: schemas.ExpenseUpdate
) -> m.Expense:
    row = await get_expense(session, user_id, expense_id)
    currency = row.currency
    if data.currency is not msgspec.UNSET:
        currency = checked_currency(data.currency)
    if data.amount is not msgspec.UNSET:
        row.amount = checked_amount(data.amount, currency)
    elif currency != row.currency:
        row.amount = checked_amount(row.amount, currency)  # e.g. 12.50 cannot become JPY
    row.currency = currency
    if data.occurred_on is not msgspec.UNSET:
        row.occurred_on = data.occurred_on
    if data.merchant is not msgspec.UNSET:
        row.merchant = data.merchant.strip()
        row.merchant_key = merchant_key(data.merchant)
    if data.category_id is not msgspec.UNSET:
        await ensure_owned(session, user_id, data.category_id, "category_id")
        row.category_id = data.category_id
    if data.note is not msgspec.UNSET:
        row.note = data.note
    if data.tags is not msgspec.UNSET:
        row.tags = clean_tags(data.tags)
    if data.payment_method is not msgspec.UNSET:
        row.payment_method = data.payment_method
    with session.no_autoflush:
        row.possible_duplicate_of = await find_possible_duplicate(session, row)
    await budgets.check_thresholds(session, user_id, row.occurred_on)
    await session.commit()
    return row


async def delete_expense(session: AsyncSession, user_id: uuid.UUID, expense_id: uuid.UUID) -> None:
    row = await get_expense(session, user_id, expense_id)
    await session.delete(row)
    await session.commit()


# --- Listing ---------------------------------------------------------------------------


def tag_condition(dialect: str, tag: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return cast(m.Expense.tags, JSONB).contains([tag])
    values = func.json_each(m.Expense.tags).table_valued("value")
    return exists().select_from(values).where(values.c.value == tag)


def filter_conditions(
    dialect: str, user_id: uuid.UUID, filters: schemas.ExpenseFilters
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [m.Expense.user_id == user_id]
    if filters.date_from is not None:
        conditions.append(m.Expense.occurred_on >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(m.Expense.occurred_on <= filters.date_to)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise api.field_error("from", "must not be after 'to'")
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


# The columns a response shows; listing reads them as plain rows (no ORM objects, no identity
# map), which roughly halves the CPU a page of 50 costs.
_RESPONSE_COLUMNS = tuple(
    m.Expense.__table__.c[name]
    for name in (
        "id",
        "amount",
        "currency",
        "occurred_on",
        "merchant",
        "category_id",
        "note",
        "tags",
        "payment_method",
        "receipt_id",
        "recurring_id",
        "possible_duplicate_of",
        "created_at",
        "updated_at",
    )
)


async def list_expenses(
    session: AsyncSession,
    user_id: uuid.UUID,
    filters: schemas.ExpenseFilters,
    limit: int,
    cursor: str | None,
) -> tuple[list[schemas.Expense], str | None]:
    conditions = filter_conditions(dialect_of(session), user_id, filters)
    if cursor:
        position = api.decode_cursor(cursor)
        try:
            key = dt.date.fromisoformat(position.key)
        except ValueError as error:
            raise api.field_error("cursor", "invalid cursor") from error
        conditions.append(
            tuple_(m.Expense.occurred_on, m.Expense.id) < tuple_(literal(key), literal(position.id))
        )
    query = (
        select(*_RESPONSE_COLUMNS)
        .where(and_(*conditions))
        .order_by(m.Expense.occurred_on.desc(), m.Expense.id.desc())
        .limit(limit + 1)
    )
    # One read, so no transaction: autocommit saves the BEGIN and ROLLBACK round trips, and
    # Core execution skips the ORM's result machinery.
    connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    rows = (await connection.execute(query)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = api.encode_cursor(rows[-1].occurred_on, rows[-1].id)
    return [to_schema(row) for row in rows], next_cursor
