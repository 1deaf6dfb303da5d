"""Per-account quotas (QUOTA_* settings): one account cannot grow the database without bound."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import ApiError
from expense_wise.db import models as m

# The tables a quota applies to.
Quotaed = type[m.Category] | type[m.RecurringExpense] | type[m.PersonalToken] | type[m.Budget]


def quota_exceeded(resource: str, limit: int, count: int, adding: int) -> ApiError:
    adds = f", this would add {adding}" if adding > 1 else ""
    return ApiError(
        409,
        f"at most {limit} {resource} per account (it has {count}{adds}); nothing was created",
        code="quota_exceeded",
        resource=resource,
        limit=limit,
    )


async def check_quota(
    session: AsyncSession,
    model: Quotaed,
    user_id: uuid.UUID,
    resource: str,
    limit: int,
    adding: int = 1,
) -> None:
    """Refuse with a 409 when the user's rows of `model` plus `adding` would pass `limit`.

    On PostgreSQL the user's row is locked for the rest of the transaction, so concurrent
    creations are counted one after the other and cannot pass the limit together. SQLite has
    no row locks: on the embedded default, requests that count at the same instant may pass
    the limit by one each."""
    await session.execute(select(m.User.id).where(m.User.id == user_id).with_for_update())
    count = await session.scalar(
        select(func.count()).select_from(model).where(model.user_id == user_id)
    )
    count = count or 0
    if count + adding > limit:
        raise quota_exceeded(resource, limit, count, adding)
