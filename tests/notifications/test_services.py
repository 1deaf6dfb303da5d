"""Delivery rules of the outbox against a real SMTP server: one send per email however many
workers try, permanent rejections, backoff and giving up."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from expense_wise.db import models as m
from expense_wise.db.engine import create_engine, create_session_factory
from expense_wise.db.types import utcnow
from expense_wise.domain.notifications import services
from expense_wise.domain.notifications.mailer import SmtpMailer
from expense_wise.domain.notifications.templates import RenderedEmail
from expense_wise.settings import Settings, load_settings
from tests.conftest import MailSink, SmtpServer, free_port

EMAIL = RenderedEmail("Subject", "Plain text", "<p>HTML</p>")


@pytest.fixture
async def sessions(mail_env: dict[str, str]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(load_settings(mail_env).database)
    yield create_session_factory(engine)
    await engine.dispose()


async def record(
    sessions: async_sessionmaker[AsyncSession], to: str = "a@example.com"
) -> uuid.UUID:
    async with sessions() as session:
        email_id = await services.queue_email(
            session, kind="test", to_address=to, rendered=EMAIL, user_id=None
        )
        await session.commit()
    assert email_id is not None
    return email_id


async def row(sessions: async_sessionmaker[AsyncSession], email_id: uuid.UUID) -> m.OutboxEmail:
    async with sessions() as session:
        found = await session.get(m.OutboxEmail, email_id)
    assert found is not None
    return found


def settings_for(env: dict[str, str], **overrides: str) -> Settings:
    return load_settings({**env, **overrides})


async def test_concurrent_senders_deliver_an_email_once(
    mail_env: dict[str, str],
    smtp_server: SmtpServer,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = settings_for(mail_env)
    email_id = await record(sessions)

    async def attempt() -> bool:
        async with sessions() as session:
            return await services.deliver(session, SmtpMailer(settings.email), settings, email_id)

    results = await asyncio.gather(*(attempt() for _ in range(6)))
    assert sorted(results) == [False] * 5 + [True]
    [message] = await smtp_server.wait_for(1)
    sent = await row(sessions, email_id)
    assert sent.status == "sent" and sent.attempts == 1 and sent.sent_at is not None
    assert message["Message-ID"] == sent.message_id
    assert message.get_body(preferencelist=("plain",)).get_content().strip() == "Plain text"


async def test_queue_email_records_a_dedupe_key_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def queue() -> uuid.UUID | None:
        async with sessions() as session:
            email_id = await services.queue_email(
                session,
                kind="test",
                to_address="a@example.com",
                rendered=EMAIL,
                user_id=None,
                dedupe_key="once",
            )
            await session.commit()
            return email_id

    results = await asyncio.gather(*(queue() for _ in range(5)))
    assert sum(result is not None for result in results) == 1


class RejectingSink(MailSink):
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "550 5.1.1 no such mailbox"


async def test_a_rejected_recipient_fails_for_good(
    mail_env: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    port = free_port()
    controller = Controller(RejectingSink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = settings_for(mail_env, SMTP_PORT=str(port))
        email_id = await record(sessions, "gone@example.com")
        async with sessions() as session:
            sent = await services.deliver(session, SmtpMailer(settings.email), settings, email_id)
    finally:
        controller.stop()
    failed = await row(sessions, email_id)
    assert not sent
    assert failed.status == "failed" and "550" in (failed.last_error or "")


async def test_an_unreachable_server_backs_off_and_gives_up_after_three_days(
    mail_env: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = settings_for(mail_env, SMTP_PORT=str(free_port()))
    mailer = SmtpMailer(settings.email)
    email_id = await record(sessions)
    async with sessions() as session:
        assert not await services.deliver(session, mailer, settings, email_id)
        # Not due again before the backoff has passed.
        assert not await services.deliver(session, mailer, settings, email_id)
    waiting = await row(sessions, email_id)
    assert waiting.status == "pending" and waiting.attempts == 1
    delay = waiting.next_attempt_at - utcnow()
    assert dt.timedelta(seconds=10) < delay <= dt.timedelta(seconds=15)

    async with sessions() as session:
        stale = await session.get(m.OutboxEmail, email_id)
        assert stale is not None
        stale.created_at = utcnow() - dt.timedelta(days=3, minutes=1)
        stale.next_attempt_at = utcnow()
        await session.commit()
        assert not await services.deliver(session, mailer, settings, email_id)
    given_up = await row(sessions, email_id)
    assert given_up.status == "failed" and given_up.attempts == 2


def test_retry_delays_double_up_to_an_hour() -> None:
    assert [services.retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 9, 50)] == [
        15,
        30,
        60,
        120,
        3600,
        3600,
    ]


def test_user_supplied_text_is_escaped_in_html_bodies() -> None:
    from expense_wise.domain.notifications import templates

    alert = templates.budget_alert("<b>Fun</b> & games", "May 2024", 80, "8.00", "10.00", "EUR")
    assert "<b>Fun</b>" in alert.text and "<b>Fun</b>" not in alert.html
    assert "&lt;b&gt;Fun&lt;/b&gt; &amp; games" in alert.html
    summary = templates.monthly_summary(
        "May 2024",
        [templates.SummaryLine("Total", "EUR", "1.00", 1)],
        [templates.SummaryLine("<img src=x>", "EUR", "1.00", 1)],
        "opt out",
    )
    assert "<img" not in summary.html and "&lt;img src=x&gt;" in summary.html
