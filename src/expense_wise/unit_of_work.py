"""The unit of work shared by HTTP handlers and jobs: a session that commits on success and
rolls back on failure, and releases what its transactions queued only once they committed.

Services queue jobs (an email's send job, a recurring template's first run) with
`enqueue_after_commit`. A job queued in a transaction that rolls back is never sent; one
queued in a committed transaction is sent when the unit of work ends, without waiting for a
sweeper. No handler or job dispatches by hand. Queueing stays best effort: the work owed is
recorded in the database, and the periodic sweepers pick up what could not be queued.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from expense_wise.logging import get_logger
from expense_wise.runtime.queue import JobQueue, QueueUnavailable

log = get_logger(__name__)
# Keys of Session.info: jobs of the open transaction, and jobs whose transaction committed.
_PENDING = "jobs_pending_commit"
_COMMITTED = "jobs_committed"


@dataclass(frozen=True)
class QueuedJob:
    name: str
    args: tuple[Any, ...]
    job_id: str | None


def enqueue_after_commit(
    session: AsyncSession, name: str, *args: Any, job_id: str | None = None
) -> None:
    """Queue job `name` once the session's current transaction commits."""
    if not session.in_transaction():
        session.sync_session.begin()  # tie the job to a transaction, even one without writes
    session.info.setdefault(_PENDING, []).append(QueuedJob(name, args, job_id))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_COMMITTED, []).extend(pending)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    # Runs after `after_commit`: what is still pending ended without a commit (rolled back,
    # or the session closed). A savepoint's end leaves its parent's jobs alone.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


async def release(session: AsyncSession, queue: JobQueue | None) -> None:
    """Queue the jobs of the session's committed transactions (and forget the rest)."""
    committed: list[QueuedJob] = session.info.pop(_COMMITTED, [])
    session.info.pop(_PENDING, None)
    if queue is None:
        return
    for job in committed:
        try:
            await queue.enqueue(job.name, *job.args, job_id=job.job_id)
        except QueueUnavailable as error:
            log.warning(
                "job left to its sweeper", job=job.name, job_id=job.job_id, error=str(error)
            )
            return


SessionFactory = Callable[[], AsyncSession]


@contextlib.asynccontextmanager
async def unit_of_work(
    session_factory: SessionFactory, queue: JobQueue | None
) -> AsyncIterator[AsyncSession]:
    """A session that commits when the block ends normally and rolls back when it raises;
    then the jobs its committed transactions queued are released to `queue`."""
    async with session_factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await release(session, queue)


def job_session(ctx: dict[str, Any]) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
    """The unit of work of a job, on the resources of its context."""
    return unit_of_work(ctx["session_factory"], ctx.get("queue"))
