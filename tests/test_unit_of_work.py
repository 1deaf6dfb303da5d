"""The unit of work releases queued jobs only after their transaction committed, on a real
PostgreSQL database; the outbox's send jobs go through it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from expense_wise.db import models as m
from expense_wise.db.engine import create_engine, create_session_factory
from expense_wise.domain.notifications import services
from expense_wise.domain.notifications.templates import RenderedEmail
from expense_wise.runtime.queue import QueueUnavailable
from expense_wise.settings import load_settings
from expense_wise.unit_of_work import enqueue_after_commit, unit_of_work

EMAIL = RenderedEmail("Subject", "Plain text", "<p>HTML</p>")


class RecordingQueue:
    """A JobQueue that keeps what it was handed instead of running it."""

    def __init__(self, *, down: bool = False) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str | None]] = []
        self.down = down

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float | None = None
    ) -> bool:
        if self.down:
            raise QueueUnavailable("connection refused")
        self.jobs.append((name, args, job_id))
        return True

    async def queue_depth(self) -> int:
        return len(self.jobs)

    async def oldest_wait_seconds(self) -> float:
        return 0.0


@pytest.fixture
async def sessions(base_env: dict[str, str]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(load_settings(base_env).database)
    yield create_session_factory(engine)
    await engine.dispose()


async def queue_test_email(session: AsyncSession, to: str) -> uuid.UUID:
    email_id = await services.queue_email(
        session, kind="test", to_address=to, rendered=EMAIL, user_id=None
    )
    assert email_id is not None
    return email_id


async def stored(sessions: async_sessionmaker[AsyncSession], email_id: uuid.UUID) -> bool:
    async with sessions() as session:
        found = await session.scalar(select(m.OutboxEmail.id).where(m.OutboxEmail.id == email_id))
    return found is not None


async def test_an_email_of_a_committed_transaction_is_sent_when_the_unit_ends(sessions):
    queue = RecordingQueue()
    async with unit_of_work(sessions, queue) as session:
        email_id = await queue_test_email(session, "a@example.com")
        assert queue.jobs == []  # nothing leaves before the commit
    assert queue.jobs == [("send_email", (str(email_id),), f"send-email:{email_id}")]
    assert await stored(sessions, email_id)


async def test_an_email_of_a_rolled_back_transaction_is_never_sent(sessions):
    queue = RecordingQueue()
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions, queue) as session:
            email_id = await queue_test_email(session, "a@example.com")
            raise RuntimeError("the handler failed after queueing")
    assert queue.jobs == []
    assert not await stored(sessions, email_id)


async def test_only_the_committed_transactions_of_a_unit_release_their_jobs(sessions):
    """A service may commit and start over: what it committed is released even when a later
    transaction of the same unit fails, and what that one queued is not."""
    queue = RecordingQueue()
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions, queue) as session:
            committed = await queue_test_email(session, "first@example.com")
            await session.commit()
            await queue_test_email(session, "second@example.com")
            raise RuntimeError("failed in the second transaction")
    assert [args for _, args, _ in queue.jobs] == [(str(committed),)]


async def test_an_explicit_rollback_drops_the_jobs_queued_before_it(sessions):
    queue = RecordingQueue()
    async with unit_of_work(sessions, queue) as session:
        enqueue_after_commit(session, "flush_outbox", job_id="dropped")
        await session.rollback()
        enqueue_after_commit(session, "flush_outbox", job_id="kept")
    assert [job_id for _, _, job_id in queue.jobs] == ["kept"]


async def test_a_queue_outage_leaves_the_committed_work_to_the_sweepers(sessions):
    async with unit_of_work(sessions, RecordingQueue(down=True)) as session:
        email_id = await queue_test_email(session, "a@example.com")
    # The commit stands; the periodic flush sends the recorded email later.
    assert await stored(sessions, email_id)


async def test_a_plain_session_releases_nothing(sessions):
    """Jobs queued outside a unit of work stay with their session and are never sent twice:
    a later unit on another session does not pick them up."""
    queue = RecordingQueue()
    async with sessions() as session:
        await queue_test_email(session, "a@example.com")
        await session.commit()
    async with unit_of_work(sessions, queue):
        pass
    assert queue.jobs == []
