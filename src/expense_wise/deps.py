"""Litestar dependency providers shared by all domains (the CLI and jobs build the same
objects from `Settings` directly)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.domain.accounts.auth import AuthUser


async def provide_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; services commit explicitly, anything else is rolled back."""
    async with state.session_factory() as session:
        yield session


def provide_current_user(request: Request[Any, Any, Any]) -> AuthUser:
    user: AuthUser = request.user
    return user


DEPENDENCIES = {
    "session": Provide(provide_session),
    "current_user": Provide(provide_current_user, sync_to_thread=False),
}
