"""Verification and password reset end to end: the API records the mail, a real ARQ worker
sends it to a real SMTP server, and the token is taken from the received message."""

from __future__ import annotations

import asyncio
import mailbox
import re
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import (
    PASSWORD,
    SmtpServer,
    enqueue_job,
    register,
    run_sql,
    run_worker_burst,
    running_app,
)

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")


def token_from(message: Any) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = TOKEN.search(text)
    assert match, text
    return match.group(1)


async def test_registration_mails_a_verification_link_that_verifies_once(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        account = await register(client, "ada@example.com")
        assert await run_worker_burst(mail_env) >= 1
        [message] = await smtp_server.wait_for(1)

        assert message["To"] == "ada@example.com"
        assert message["From"] == "Expense-Wise <no-reply@example.com>"
        assert message["Subject"] == "Confirm your email address"
        assert message.get_body(preferencelist=("html",)) is not None
        [(message_id, status)] = run_sql(mail_env, "SELECT message_id, status FROM outbox_emails")
        assert message["Message-ID"] == message_id and status == "sent"
        token = token_from(message)
        assert (
            "https://app.example.com/verify-email?token="
            in message.get_body(preferencelist=("plain",)).get_content()
        )

        me = await client.get("/api/v1/me", headers=account.headers)
        assert me.json()["email_verified"] is False
        response = await client.post("/api/v1/auth/verify", json={"token": token})
        assert response.status_code == 204, response.text
        me = await client.get("/api/v1/me", headers=account.headers)
        assert me.json()["email_verified"] is True

        again = await client.post("/api/v1/auth/verify", json={"token": token})
        assert again.status_code == 403
        assert again.json()["detail"] == "this token was already used"
        wrong = await client.post("/api/v1/auth/verify", json={"token": "not-a-token"})
        assert wrong.status_code == 403


async def test_password_reset_from_the_mailed_token(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        account = await register(client, "grace@example.com")
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(1)

        known = await client.post(
            "/api/v1/auth/password-reset", json={"email": "Grace@Example.com"}
        )
        unknown = await client.post(
            "/api/v1/auth/password-reset", json={"email": "nobody@example.com"}
        )
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(2)
        [reset] = [m for m in smtp_server.messages if m["Subject"] == "Reset your password"]
        assert reset["To"] == "grace@example.com"
        token = token_from(reset)

        weak = await client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "short"}
        )
        assert weak.status_code == 422  # and the token is still good:
        new_password = "Another-Sturdy-Password-7"
        confirmed = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "password": new_password},
        )
        assert confirmed.status_code == 204, confirmed.text

        old_login = await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        assert old_login.status_code == 401
        new_login = await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": new_password}
        )
        assert new_login.status_code == 200
        # The reset signed out the sessions that existed before it.
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert refreshed.status_code == 401
        reused = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "password": "Yet-Another-Password-99"},
        )
        assert reused.status_code == 403
        assert reused.json()["detail"] == "this token was already used"


async def test_expired_tokens_are_refused(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        account = await register(client, "linus@example.com")
        await client.post("/api/v1/auth/password-reset", json={"email": account.email})
        await run_worker_burst(mail_env)
        messages = await smtp_server.wait_for(2)
        tokens = {message["Subject"]: token_from(message) for message in messages}
        lifetimes = dict(
            run_sql(mail_env, "SELECT purpose, expires_at - created_at FROM one_time_tokens")
        )
        assert round(lifetimes["verify_email"].total_seconds()) == 48 * 3600
        assert round(lifetimes["password_reset"].total_seconds()) == 3600

        run_sql(mail_env, "UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
        verify = await client.post(
            "/api/v1/auth/verify", json={"token": tokens["Confirm your email address"]}
        )
        reset = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": tokens["Reset your password"], "password": "Brand-New-Password-1"},
        )
        assert verify.status_code == reset.status_code == 403
        assert "expired" in verify.json()["detail"] and "expired" in reset.json()["detail"]
        me = await client.get("/api/v1/me", headers=account.headers)
        assert me.json()["email_verified"] is False


async def test_a_token_for_one_purpose_does_not_work_for_the_other(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        await register(client, "barbara@example.com")
        await run_worker_burst(mail_env)
        [message] = await smtp_server.wait_for(1)
        response = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token_from(message), "password": "Brand-New-Password-1"},
        )
        assert response.status_code == 403


async def test_password_reset_requests_are_rate_limited(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    mail_env["AUTH_RATE_LIMIT"] = "3"
    async with running_app(mail_env) as client:
        codes = [
            (
                await client.post(
                    "/api/v1/auth/password-reset", json={"email": "target@example.com"}
                )
            ).status_code
            for _ in range(4)
        ]
    assert codes == [202, 202, 202, 429]


async def test_smtp_outage_delays_mail_but_loses_and_duplicates_none(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    smtp_server.stop()
    async with running_app(mail_env) as client:
        emails = [f"outage-{n}@example.com" for n in range(3)]
        for email in emails:
            await register(client, email)
        await run_worker_burst(mail_env)
        rows = run_sql(mail_env, "SELECT status, attempts, last_error FROM outbox_emails")
        assert len(rows) == 3
        assert all(
            status == "pending" and attempts == 1 and error for status, attempts, error in rows
        )

        smtp_server.start()
        # Nothing is sent before the backoff has passed...
        [(delay,)] = run_sql(mail_env, "SELECT min(next_attempt_at) - now() FROM outbox_emails")
        assert delay.total_seconds() > 0  # backed off (by 15 s after the first failure)
        run_sql(mail_env, "UPDATE outbox_emails SET next_attempt_at = now() + interval '1 hour'")
        await enqueue_job(mail_env, "flush_outbox")
        await run_worker_burst(mail_env)
        assert smtp_server.messages == []
        # ...and everything once it has (moved into the past rather than waited for).
        run_sql(mail_env, "UPDATE outbox_emails SET next_attempt_at = now()")
        await enqueue_job(mail_env, "flush_outbox")
        await enqueue_job(mail_env, "flush_outbox", job_id="second-flush")
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(3)
        # A later flush and the original send jobs find nothing left to send.
        for (email_id,) in run_sql(mail_env, "SELECT id FROM outbox_emails"):
            await enqueue_job(mail_env, "send_email", str(email_id))
        await enqueue_job(mail_env, "flush_outbox", job_id="third-flush")
        await run_worker_burst(mail_env)
        await asyncio.sleep(0.2)

        assert sorted(message["To"] for message in smtp_server.messages) == sorted(emails)
        rows = run_sql(mail_env, "SELECT status, attempts, sent_at IS NOT NULL FROM outbox_emails")
        assert sorted(rows) == [("sent", 2, True)] * 3

        metrics = (await client.get("/metrics")).text
        assert "emails_queued_total" in metrics
        assert "outbox_oldest_unsent_age_seconds" in metrics


async def test_embedded_default_writes_the_verification_mail_into_the_maildir(
    sqlite_client: AsyncTestClient[Any], sqlite_env: dict[str, str]
) -> None:
    maildir = Path(sqlite_env["DATA_DIR"]) / "maildir"
    client = sqlite_client
    account = await register(client, "embedded@example.com")
    deadline = time.monotonic() + 15
    # A delivered message is renamed into new/ in one step, so a file there is complete.
    while not list(maildir.glob("new/*")):
        assert time.monotonic() < deadline, "no mail in the maildir after 15 s"
        await asyncio.sleep(0.05)
    box = mailbox.Maildir(maildir, create=False)
    [key] = box.keys()
    message = message_from_bytes(box.get_bytes(key), policy=policy.default)
    assert message["To"] == account.email
    assert message["Subject"] == "Confirm your email address"
    response = await client.post("/api/v1/auth/verify", json={"token": token_from(message)})
    assert response.status_code == 204
    me = await client.get("/api/v1/me", headers=account.headers)
    assert me.json()["email_verified"] is True


async def test_a_new_verification_mail_can_be_requested_until_verified(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        account = await register(client, "again@example.com")
        resend = await client.post("/api/v1/me/verification-email", headers=account.headers)
        assert resend.status_code == 202
        anonymous = await client.post("/api/v1/me/verification-email")
        assert anonymous.status_code == 401
        await run_worker_burst(mail_env)
        first, second = await smtp_server.wait_for(2)
        assert token_from(first) != token_from(second)
        verified = await client.post("/api/v1/auth/verify", json={"token": token_from(second)})
        assert verified.status_code == 204
        done = await client.post("/api/v1/me/verification-email", headers=account.headers)
        assert done.status_code == 409


async def test_frontend_url_points_the_links_at_another_app(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    env = {**mail_env, "FRONTEND_URL": "https://web.example.org/account/"}
    async with running_app(env) as client:
        await register(client, "lin@example.com")
        reset = await client.post("/api/v1/auth/password-reset", json={"email": "lin@example.com"})
        assert reset.status_code == 202
        await run_worker_burst(env)
        messages = await smtp_server.wait_for(2)
    links = sorted(
        re.findall(r"\S+\?token=", message.get_body(preferencelist=("plain",)).get_content())[0]
        for message in messages
    )
    assert links == [
        "https://web.example.org/account/reset-password?token=",
        "https://web.example.org/account/verify-email?token=",
    ]
