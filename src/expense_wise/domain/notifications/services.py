"""The email outbox.

An email is first a row in `outbox_emails`, written in the same transaction as its cause (a
registration, a reset request, an expense crossing a budget threshold), so it exists exactly
when its cause does. Delivery happens later, from a job: a worker claims the row with a
conditional UPDATE (a lease), sends it, and marks it sent only once the server accepted it.
Failures move `next_attempt_at` back with exponential backoff; the periodic flush picks up
whatever is due, so a lost job or a Redis outage only delays mail.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import metrics
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.notifications import templates
from expense_wise.domain.notifications.mailer import (
    DeliveryError,
    Mailer,
    build_message,
)
from expense_wise.logging import get_logger
from expense_wise.settings import Settings
from expense_wise.unit_of_work import enqueue_after_commit

log = get_logger(__name__)


PENDING, SENT, FAILED = "pending", "sent", "failed"
# A claimed row is invisible to other senders for this long; more than a send can take.
CLAIM_LEASE = dt.timedelta(seconds=120)
FIRST_RETRY_SECONDS = 15
MAX_RETRY_SECONDS = 3600
# Transient failures are retried this long before the email is given up on.
GIVE_UP_AFTER = dt.timedelta(days=3)
FLUSH_BATCH = 100
# The right-hand side of our Message-IDs; the left-hand side is the outbox row id.
MESSAGE_ID_DOMAIN = "expense-wise.mail"


# --- Writing to the outbox ---------------------------------------------------------------


async def queue_email(
    session: AsyncSession,
    *,
    kind: str,
    to_address: str,
    rendered: templates.RenderedEmail,
    user_id: uuid.UUID | None,
    dedupe_key: str | None = None,
) -> uuid.UUID | None:
    """Record an email in the caller's transaction; None when `dedupe_key` was already used.

    INSERT ... ON CONFLICT DO NOTHING: of concurrent transactions writing one key, one inserts
    and the others wait for it and then insert nothing, without aborting their transaction.
    Its send job is queued once the transaction commits (see expense_wise.unit_of_work).
    """
    email_id = uuid.uuid4()
    values: dict[str, Any] = {
        "id": email_id,
        "user_id": user_id,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "to_address": to_address,
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "message_id": f"<{email_id.hex}@{MESSAGE_ID_DOMAIN}>",
        "created_at": utcnow(),
    }
    insert = postgresql_insert if _dialect(session) == "postgresql" else sqlite_insert
    statement = (
        insert(m.OutboxEmail)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(m.OutboxEmail.id)
    )
    inserted = await session.scalar(statement)
    if inserted is None:
        return None
    metrics.EMAILS_QUEUED.labels(kind).inc()
    enqueue_after_commit(session, "send_email", str(inserted), job_id=f"send-email:{inserted}")
    return inserted


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# --- Delivery ----------------------------------------------------------------------------


def retry_delay(attempts: int) -> dt.timedelta:
    """15 s, 30 s, 1 min, ... doubling up to an hour."""
    return dt.timedelta(
        seconds=min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1))
    )


async def claim(session: AsyncSession, email_id: uuid.UUID) -> m.OutboxEmail | None:
    """Take the lease on a due pending email and commit; None when it is not due, already
    sent, or another worker holds it."""
    now = utcnow()
    result = await session.execute(
        update(m.OutboxEmail)
        .where(
            m.OutboxEmail.id == email_id,
            m.OutboxEmail.status == PENDING,
            m.OutboxEmail.next_attempt_at <= now,
        )
        .values(attempts=m.OutboxEmail.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
    )
    await session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(m.OutboxEmail, email_id, populate_existing=True)


async def deliver(
    session: AsyncSession, mailer: Mailer, settings: Settings, email_id: uuid.UUID
) -> bool:
    """Claim, send and record the outcome of one email; True when it was sent now."""
    row = await claim(session, email_id)
    if row is None:
        return False
    try:
        await mailer.send(build_message(row, settings.email.smtp_from))
    except DeliveryError as error:
        await _record_failure(session, row, error)
        return False
    await session.execute(
        update(m.OutboxEmail)
        .where(m.OutboxEmail.id == row.id)
        .values(status=SENT, sent_at=utcnow(), last_error=None)
    )
    await session.commit()
    metrics.EMAILS_SENT.labels(row.kind).inc()
    log.info("email sent", email_id=str(row.id), kind=row.kind, attempts=row.attempts)
    return True


async def _record_failure(session: AsyncSession, row: m.OutboxEmail, error: DeliveryError) -> None:
    give_up = error.permanent or utcnow() - row.created_at >= GIVE_UP_AFTER
    values: dict[str, Any] = {"last_error": str(error)[:2000]}
    if give_up:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = utcnow() + retry_delay(row.attempts)
    await session.execute(update(m.OutboxEmail).where(m.OutboxEmail.id == row.id).values(values))
    await session.commit()
    metrics.EMAILS_FAILED.labels(row.kind, "given_up" if give_up else "retry").inc()
    log.warning(
        "email not sent",
        email_id=str(row.id),
        kind=row.kind,
        attempts=row.attempts,
        given_up=give_up,
        error=str(error),
    )


async def due_email_ids(session: AsyncSession, limit: int = FLUSH_BATCH) -> Sequence[uuid.UUID]:
    return (
        await session.scalars(
            select(m.OutboxEmail.id)
            .where(m.OutboxEmail.status == PENDING, m.OutboxEmail.next_attempt_at <= utcnow())
            .order_by(m.OutboxEmail.next_attempt_at)
            .limit(limit)
        )
    ).all()


async def refresh_outbox_metrics(session: AsyncSession) -> None:
    now = utcnow()
    oldest, oldest_due = (
        await session.execute(
            select(
                func.min(m.OutboxEmail.created_at),
                func.min(m.OutboxEmail.next_attempt_at).filter(
                    m.OutboxEmail.next_attempt_at <= now
                ),
            ).where(m.OutboxEmail.status == PENDING)
        )
    ).one()
    metrics.OUTBOX_OLDEST_UNSENT_AGE.set(_seconds_since(oldest, now))
    metrics.OUTBOX_OLDEST_DUE_AGE.set(_seconds_since(oldest_due, now))
    rows = await session.execute(
        select(m.OutboxEmail.status, func.count()).group_by(m.OutboxEmail.status)
    )
    counts = {status: count for status, count in rows.tuples()}
    for status in (PENDING, SENT, FAILED):
        metrics.OUTBOX_EMAILS.labels(status).set(counts.get(status, 0))


def _seconds_since(moment: dt.datetime | None, now: dt.datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0
