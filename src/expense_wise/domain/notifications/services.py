"""The email outbox and the flows that write to it.

An email is first a row in `outbox_emails`, written in the same transaction as its cause (a
registration, a reset request, an expense crossing a budget threshold), so it exists exactly
when its cause does. Delivery happens later, from a job: a worker claims the row with a
conditional UPDATE (a lease), sends it, and marks it sent only once the server accepted it.
Failures move `next_attempt_at` back with exponential backoff; the periodic flush picks up
whatever is due, so a lost job or a Redis outage only delays mail.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import metrics
from expense_wise.api import ApiError, conflict
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.accounts.services import (
    check_password,
    normalise_email,
    revoke_all_sessions,
)
from expense_wise.domain.notifications import templates
from expense_wise.domain.notifications.mailer import (
    DeliveryError,
    Mailer,
    build_message,
)
from expense_wise.logging import get_logger
from expense_wise.runtime.queue import JobQueue, QueueUnavailable
from expense_wise.security import hash_password, hash_token, new_opaque_token
from expense_wise.settings import Settings
from expense_wise.unit_of_work import enqueue_after_commit

log = get_logger(__name__)

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"  # noqa: S105 - a token purpose, not a secret
TOKEN_TTL = {VERIFY_EMAIL: dt.timedelta(hours=48), PASSWORD_RESET: dt.timedelta(hours=1)}

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


# --- One-time tokens ---------------------------------------------------------------------


async def issue_token(session: AsyncSession, user_id: uuid.UUID, purpose: str) -> str:
    token = new_opaque_token()
    session.add(
        m.OneTimeToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=utcnow() + TOKEN_TTL[purpose],
        )
    )
    return token


def _invalid_token(detail: str) -> ApiError:
    return ApiError(400, detail)


async def _usable_token(session: AsyncSession, token: str, purpose: str) -> m.OneTimeToken:
    row = await session.scalar(
        select(m.OneTimeToken).where(m.OneTimeToken.token_hash == hash_token(token))
    )
    if row is None or row.purpose != purpose:
        raise _invalid_token("invalid token")
    if row.used_at is not None:
        raise _invalid_token("this token was already used")
    if row.expires_at <= utcnow():
        raise _invalid_token("this token has expired; request a new one")
    return row


async def _use_token(session: AsyncSession, row: m.OneTimeToken) -> None:
    # Conditional update: of two concurrent uses of one token, exactly one succeeds.
    result = await session.execute(
        update(m.OneTimeToken)
        .where(m.OneTimeToken.id == row.id, m.OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _invalid_token("this token was already used")


# --- Flows -------------------------------------------------------------------------------


async def queue_verification_email(session: AsyncSession, settings: Settings, user: m.User) -> None:
    token = await issue_token(session, user.id, VERIFY_EMAIL)
    link = f"{settings.server.frontend_url}/verify-email?token={token}"
    await queue_email(
        session,
        kind=VERIFY_EMAIL,
        to_address=user.email,
        rendered=templates.verify_email(
            user.name, link, token, int(TOKEN_TTL[VERIFY_EMAIL].total_seconds() // 3600)
        ),
        user_id=user.id,
    )


async def resend_verification_email(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID
) -> None:
    """A new verification mail (the first may have expired or been lost); earlier links keep
    working until they expire."""
    user = await session.get(m.User, user_id)
    if user is None:
        raise ApiError(401, "account no longer exists")
    if user.email_verified_at is not None:
        raise conflict("this email address is already verified")
    await queue_verification_email(session, settings, user)
    await session.commit()


async def verify_email(session: AsyncSession, token: str) -> None:
    row = await _usable_token(session, token, VERIFY_EMAIL)
    await _use_token(session, row)
    await session.execute(
        update(m.User)
        .where(m.User.id == row.user_id, m.User.email_verified_at.is_(None))
        .values(email_verified_at=utcnow())
    )
    await session.commit()


async def request_password_reset(
    session: AsyncSession, settings: Settings, queue: JobQueue, email: str
) -> None:
    """Hand a reset request to the `send_password_reset` job. The request does the same work
    for every address, with an account or without: one indexed read (so a database outage
    answers 503 here, as on every route) and one queued job; only the job finds out whether
    there is an account to mail. Writing the token and the mail in the request took twice as
    long for a known address, which told a stopwatch who has an account."""
    email = normalise_email(email)
    await session.scalar(select(m.User.id).where(m.User.email == email))
    try:
        await queue.enqueue("send_password_reset", email)
    except QueueUnavailable as error:
        # Without Redis, uniform timing loses to getting the mail out: the outbox row written
        # now is sent by the periodic flush once the queue is back.
        log.warning("reset request handled in the request", error=str(error))
        await mail_password_reset(session, settings, email)


async def mail_password_reset(session: AsyncSession, settings: Settings, email: str) -> None:
    """Record a reset token and its mail if an account has this address; nothing otherwise."""
    user = await session.scalar(select(m.User).where(m.User.email == normalise_email(email)))
    if user is None:
        return
    token = await issue_token(session, user.id, PASSWORD_RESET)
    link = f"{settings.server.frontend_url}/reset-password?token={token}"
    await queue_email(
        session,
        kind=PASSWORD_RESET,
        to_address=user.email,
        rendered=templates.password_reset(
            link, token, int(TOKEN_TTL[PASSWORD_RESET].total_seconds() // 60)
        ),
        user_id=user.id,
    )
    await session.commit()


async def reset_password(
    session: AsyncSession, token: str, password: str
) -> tuple[uuid.UUID, dt.datetime]:
    """Set the new password and sign out every session, personal tokens included; the user
    and the moment before which their tokens are void."""
    row = await _usable_token(session, token, PASSWORD_RESET)
    user = await session.get(m.User, row.user_id)
    if user is None:
        raise _invalid_token("invalid token")
    check_password(password, user.email)  # before using the token: a weak password keeps it
    await _use_token(session, row)
    now = utcnow()
    user.password_hash = hash_password(password)
    # The mailbox owner proved control of the address.
    if user.email_verified_at is None:
        user.email_verified_at = now
    # Any other reset link still in a mailbox stops working too.
    await session.execute(
        update(m.OneTimeToken)
        .where(
            m.OneTimeToken.user_id == user.id,
            m.OneTimeToken.purpose == PASSWORD_RESET,
            m.OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    valid_after = await revoke_all_sessions(session, user.id)
    await session.commit()
    return user.id, valid_after


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


# --- Monthly summary ---------------------------------------------------------------------

SUMMARY_BATCH = 200


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """'2026-10' -> (2026-10-01, 2026-10-31)."""
    first = dt.date.fromisoformat(f"{month}-01")
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def previous_month(today: dt.date) -> str:
    return (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def summary_dedupe_key(user_id: uuid.UUID, month: str) -> str:
    return f"monthly-summary:{user_id}:{month}"


async def queue_monthly_summaries(session: AsyncSession, month: str) -> int:
    """Record the summary of `month` for every opted-in user with expenses in it who has not
    had it yet; returns how many were recorded. The dedupe key makes re-runs harmless."""
    from expense_wise.domain.expenses.schemas import ExpenseFilters
    from expense_wise.domain.reports.services import summary

    first, last = month_bounds(month)
    queued = 0
    after: uuid.UUID | None = None
    while True:
        query = (
            select(m.User)
            .where(m.User.monthly_summary.is_(True))
            .order_by(m.User.id)
            .limit(SUMMARY_BATCH)
        )
        if after is not None:
            query = query.where(m.User.id > after)
        users = (await session.scalars(query)).all()
        if not users:
            return queued
        after = users[-1].id
        keys = {summary_dedupe_key(user.id, month): user for user in users}
        done = set(
            (
                await session.scalars(
                    select(m.OutboxEmail.dedupe_key).where(m.OutboxEmail.dedupe_key.in_(keys))
                )
            ).all()
        )
        for key, user in keys.items():
            if key in done:
                continue
            report = await summary(
                session, user.id, ExpenseFilters(date_from=first, date_to=last), "category"
            )
            if not report.totals:
                continue  # nothing recorded that month: no mail
            rendered = templates.monthly_summary(
                first.strftime("%B %Y"),
                [
                    templates.SummaryLine("Total", line.currency, line.total, line.count)
                    for line in report.totals
                ],
                [
                    templates.SummaryLine(group.label, group.currency, group.total, group.count)
                    for group in report.groups
                ],
                "You receive this summary once a month. To stop it, send "
                'PATCH /api/v1/me {"monthly_summary": false}.',
            )
            if await queue_email(
                session,
                kind="monthly_summary",
                to_address=user.email,
                rendered=rendered,
                user_id=user.id,
                dedupe_key=key,
            ):
                queued += 1
        await session.commit()
