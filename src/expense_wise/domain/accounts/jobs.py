"""The password-reset job: the account lookup and mail a reset request hands off."""

from __future__ import annotations

from typing import Any

from arq import Retry
from sqlalchemy.exc import SQLAlchemyError

from expense_wise.domain.accounts import email_tokens
from expense_wise.unit_of_work import job_session

# A reset request is retried through a database outage of about this long in total.
RESET_RETRY_SECONDS = (5, 10, 20, 40)


async def send_password_reset(ctx: dict[str, Any], email: str) -> None:
    """Queued by every reset request, for any address: record the token and its mail if an
    account has `email` (the outbox then sends it), nothing otherwise."""
    try:
        async with job_session(ctx) as session:
            await email_tokens.mail_password_reset(session, ctx["settings"], email)
    except SQLAlchemyError as error:
        job_try = int(ctx.get("job_try") or 1)
        if job_try > len(RESET_RETRY_SECONDS):
            raise
        raise Retry(defer=RESET_RETRY_SECONDS[job_try - 1]) from error
