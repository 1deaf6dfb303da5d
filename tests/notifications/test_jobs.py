"""The monthly summary and delivery while Redis is down, through a real ARQ worker and SMTP."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import (
    SmtpServer,
    enqueue_job,
    expense_body,
    free_port,
    register,
    run_sql,
    run_worker_burst,
    running_app,
)


def summaries(smtp_server: SmtpServer) -> list[Any]:
    return [m for m in smtp_server.messages if m["Subject"].startswith("Your spending in")]


async def test_monthly_summary_content_opt_out_and_once_per_month(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        ada = await register(client, "ada@example.com")
        bob = await register(client, "bob@example.com")
        quiet = await register(client, "quiet@example.com")  # no expenses: no summary
        categories = (await client.get("/api/v1/categories", headers=ada.headers)).json()
        dining = next(c["id"] for c in categories if c["name"] == "Dining")
        for body in (
            expense_body(amount="12.50", occurred_on="2024-05-03", category_id=dining),
            expense_body(amount="7.25", occurred_on="2024-05-31", category_id=dining),
            expense_body(amount="1000", currency="JPY", occurred_on="2024-05-10"),
            expense_body(amount="99", occurred_on="2024-06-01"),  # the next month
        ):
            response = await client.post("/api/v1/expenses", json=body, headers=ada.headers)
            assert response.status_code == 201
        for account in (bob, quiet):
            response = await client.post(
                "/api/v1/expenses",
                json=expense_body(occurred_on="2024-05-15"),
                headers=account.headers,
            )
            assert response.status_code == 201
        opt_out = await client.patch(
            "/api/v1/me", json={"monthly_summary": False}, headers=bob.headers
        )
        assert opt_out.json()["monthly_summary"] is False
        run_sql(mail_env, "DELETE FROM expenses WHERE user_id = %s", quiet.id)

        await enqueue_job(mail_env, "send_monthly_summaries", "2024-05")
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(4)  # three verification mails and one summary
        # A second run (the cron fires hourly on the 1st to 3rd) sends nothing more.
        await enqueue_job(mail_env, "send_monthly_summaries", "2024-05")
        await run_worker_burst(mail_env)
        await asyncio.sleep(0.3)

        [summary] = summaries(smtp_server)
        assert summary["To"] == "ada@example.com"
        assert summary["Subject"] == "Your spending in May 2024"
        text = summary.get_body(preferencelist=("plain",)).get_content()
        assert "Total: 19.75 EUR in 2 expenses" in text
        assert "Total: 1000 JPY in 1 expense\r\n" in text
        assert "Dining: 19.75 EUR (2)" in text
        assert "99" not in text.split("By category")[0]
        assert '"monthly_summary": false' in text
        html = summary.get_body(preferencelist=("html",)).get_content()
        assert "<td>Dining</td>" in html
        [(key,)] = run_sql(
            mail_env, "SELECT dedupe_key FROM outbox_emails WHERE kind = 'monthly_summary'"
        )
        assert key == f"monthly-summary:{ada.id}:2024-05"


async def test_mail_is_sent_by_the_flush_when_redis_was_down_at_registration(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    unreachable = {**mail_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    async with running_app(unreachable) as client:
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "patient@example.com", "password": "Sturdy-Password-42"},
        )
        assert response.status_code == 201, response.text
    [(status,)] = run_sql(mail_env, "SELECT status FROM outbox_emails")
    assert status == "pending"

    await enqueue_job(mail_env, "flush_outbox")  # what the cron does every 30 s
    await run_worker_burst(mail_env)
    [message] = await smtp_server.wait_for(1)
    assert message["To"] == "patient@example.com"
    [(status,)] = run_sql(mail_env, "SELECT status FROM outbox_emails")
    assert status == "sent"
