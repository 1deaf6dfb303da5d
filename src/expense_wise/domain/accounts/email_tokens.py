"""Address verification and password reset: one-time tokens, mailed through the outbox."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import ApiError, conflict
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.accounts.services import (
    check_password,
    normalise_email,
    revoke_all_sessions,
)
from expense_wise.domain.notifications import templates
from expense_wise.domain.notifications.services import queue_email
from expense_wise.logging import get_logger
from expense_wise.runtime.queue import JobQueue, QueueUnavailable
from expense_wise.security import hash_password, hash_token, new_opaque_token
from expense_wise.settings import Settings

log = get_logger(__name__)

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"  # noqa: S105 - a token purpose, not a secret
TOKEN_TTL = {VERIFY_EMAIL: dt.timedelta(hours=48), PASSWORD_RESET: dt.timedelta(hours=1)}


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
    # 403: a well-formed token that grants nothing (unknown, used or expired).
    return ApiError(403, detail)


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
