"""Litestar dependency providers shared by all domains (the CLI and jobs build the same
objects from `Settings` directly)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.paging import provide_page_size
from expense_wise.security import AuthUser
from expense_wise.unit_of_work import unit_of_work


async def provide_session(state: State) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: committed when the handler returns, rolled back when it
    raises; the jobs its committed transactions queued (emails) are released after."""
    async with unit_of_work(state.session_factory, state.queue) as session:
        yield session


def provide_current_user(request: Request[Any, Any, Any]) -> AuthUser:
    user: AuthUser = request.user
    return user


DEPENDENCIES = {
    "session": Provide(provide_session),
    "current_user": Provide(provide_current_user, sync_to_thread=False),
    "page_limit": Provide(provide_page_size, sync_to_thread=False),
}
