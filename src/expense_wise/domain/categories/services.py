from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import api
from expense_wise.api import ApiError, conflict, field_error
from expense_wise.db import models as m
from expense_wise.domain.categories import schemas
from expense_wise.quotas import check_quota

DEFAULT_CATEGORIES = (
    ("Groceries", "#27ae60"),
    ("Dining", "#e67e22"),
    ("Transport", "#2980b9"),
    ("Housing", "#8e44ad"),
    ("Utilities", "#16a085"),
    ("Health", "#c0392b"),
    ("Entertainment", "#d35400"),
    ("Shopping", "#f1c40f"),
    ("Travel", "#1abc9c"),
    ("Other", "#7f8c8d"),
)


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def clean_name(name: str) -> str:
    """Spacing normalised; a name that is only spaces is refused, not stored as ''."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise field_error("name", "must not be blank")
    return cleaned


def to_schema(row: m.Category) -> schemas.Category:
    return schemas.Category(id=row.id, name=row.name, color=row.color, created_at=row.created_at)


async def create_default_categories(session: AsyncSession, user_id: uuid.UUID) -> None:
    session.add_all(
        m.Category(user_id=user_id, name=name, name_key=name_key(name), color=color)
        for name, color in DEFAULT_CATEGORIES
    )


async def list_categories(session: AsyncSession, user_id: uuid.UUID) -> list[m.Category]:
    rows = await session.scalars(
        select(m.Category).where(m.Category.user_id == user_id).order_by(m.Category.name_key)
    )
    return list(rows)


async def get_category(
    session: AsyncSession, user_id: uuid.UUID, category_id: uuid.UUID
) -> m.Category:
    return await api.get_owned(session, m.Category, category_id, user_id, "category")


def missing_category(field: str) -> ApiError:
    # A 409 and not a 422: the id is well formed, it just names no category of this user
    # (anything the schema allows is otherwise accepted).
    return conflict(
        f"{field}: no such category", errors=[{"field": field, "message": "no such category"}]
    )


async def ensure_owned(
    session: AsyncSession, user_id: uuid.UUID, category_id: uuid.UUID | None, field: str
) -> None:
    """A category id sent in a request body must be one of the caller's categories."""
    if category_id is None:
        return
    owner = await session.scalar(select(m.Category.user_id).where(m.Category.id == category_id))
    if owner != user_id:
        raise missing_category(field)


async def _check_unique(
    session: AsyncSession, user_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None
) -> None:
    query = select(m.Category.id).where(
        m.Category.user_id == user_id, m.Category.name_key == name_key(name)
    )
    if except_id is not None:
        query = query.where(m.Category.id != except_id)
    if await session.scalar(query):
        raise conflict(f"a category named {name!r} already exists")


async def _commit_unique(session: AsyncSession, name: str) -> None:
    try:
        await session.commit()
    except IntegrityError as error:  # lost a race with a concurrent request
        await session.rollback()
        raise conflict(f"a category named {name!r} already exists") from error


async def create_category(
    session: AsyncSession, user_id: uuid.UUID, data: schemas.CategoryCreate, quota: int
) -> m.Category:
    name = clean_name(data.name)
    await _check_unique(session, user_id, name)
    await check_quota(session, m.Category, user_id, "categories", quota)
    row = m.Category(user_id=user_id, name=name, name_key=name_key(name), color=data.color)
    session.add(row)
    await _commit_unique(session, name)
    return row


async def update_category(
    session: AsyncSession, user_id: uuid.UUID, category_id: uuid.UUID, data: schemas.CategoryUpdate
) -> m.Category:
    row = await get_category(session, user_id, category_id)
    if data.name is not msgspec.UNSET:
        name = clean_name(data.name)
        await _check_unique(session, user_id, name, except_id=row.id)
        row.name, row.name_key = name, name_key(name)
    if data.color is not msgspec.UNSET:
        row.color = data.color
    await _commit_unique(session, row.name)
    return row


async def delete_category(
    session: AsyncSession,
    user_id: uuid.UUID,
    category_id: uuid.UUID,
    reassign_to: uuid.UUID | None,
) -> None:
    """Delete a category nothing uses; one used by expenses or budgets needs `reassign_to`,
    which moves both to another category. Nothing is deleted along with it: a budget is
    something the user set up, so it is never dropped silently."""
    row = await get_category(session, user_id, category_id)
    expenses, budgets = await _uses(session, row.id)
    if expenses or budgets:
        if reassign_to is None:
            raise conflict(
                f"category is used by {expenses} expenses and {budgets} budgets; "
                "pass ?reassign_to=<category id> to move them",
                code="category_in_use",
                expenses=expenses,
                budgets=budgets,
            )
        if reassign_to == row.id:
            raise conflict(
                "reassign_to: must be another category",
                errors=[{"field": "reassign_to", "message": "must be another category"}],
            )
        target = await session.get(m.Category, reassign_to)
        if target is None or target.user_id != user_id:
            raise missing_category("reassign_to")
        for model in (m.Expense, m.Budget):
            await session.execute(
                update(model).where(model.category_id == row.id).values(category_id=target.id)
            )
    await session.delete(row)
    await session.commit()


async def _uses(session: AsyncSession, category_id: uuid.UUID) -> tuple[int, int]:
    """How many expenses and budgets are filed under the category."""
    counts = []
    for model in (m.Expense, m.Budget):
        count = await session.scalar(
            select(func.count()).select_from(model).where(model.category_id == category_id)
        )
        counts.append(count or 0)
    return counts[0], counts[1]
