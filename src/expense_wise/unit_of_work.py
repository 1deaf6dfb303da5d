"""Sessions for jobs (and, later, handlers) that commit on success and roll back on failure."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@contextlib.asynccontextmanager
async def job_session(ctx: dict[str, Any]) -> AsyncIterator[AsyncSession]:
    """A session for one job: commits on success, rolls back on failure."""
    async with ctx["session_factory"]() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
