"""The production setup end to end: the API behind uvicorn, `expense-wise worker` as its own
process on Redis, PostgreSQL, and an SMTP server."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import SmtpServer, expense_body, register, served_app
from tests.notifications.test_routes import token_from


async def wait_for_mail(smtp_server: SmtpServer, subject_start: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in smtp_server.messages if m["Subject"].startswith(subject_start)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no {subject_start!r} mail after {timeout} s"
        await asyncio.sleep(0.1)


async def test_registration_reset_budget_alert_and_recurring_with_a_worker_process(
    mail_env: dict[str, str], smtp_server: SmtpServer, start_worker: Callable[..., Any]
) -> None:
    start_worker(mail_env)
    async with (
        served_app(mail_env) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        account = await register(http, "owner@example.com")  # type: ignore[arg-type]
        verification = await wait_for_mail(smtp_server, "Confirm your email address")
        verified = await http.post("/api/v1/auth/verify", json={"token": token_from(verification)})
        assert verified.status_code == 204

        await http.post("/api/v1/auth/password-reset", json={"email": account.email})
        reset = await wait_for_mail(smtp_server, "Reset your password")
        confirmed = await http.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token_from(reset), "password": "Production-Password-2"},
        )
        assert confirmed.status_code == 204
        login = await http.post(
            "/api/v1/auth/login",
            json={"email": account.email, "password": "Production-Password-2"},
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        today = dt.datetime.now(dt.UTC).date().isoformat()
        await http.post(
            "/api/v1/budgets", json={"amount": "20", "alert_thresholds": [100]}, headers=headers
        )
        for _ in range(2):
            await http.post(
                "/api/v1/expenses",
                json=expense_body(amount="10", occurred_on=today),
                headers=headers,
            )
        alert = await wait_for_mail(smtp_server, "Budget alert")
        assert alert["Subject"].startswith("Budget alert: 100% of all spending")

        created = await http.post(
            "/api/v1/recurring-expenses",
            json={"amount": "30", "merchant": "Rent", "frequency": "monthly", "starts_on": today},
            headers=headers,
        )
        assert created.status_code == 201
        deadline = time.monotonic() + 20
        while True:
            page = (await http.get("/api/v1/expenses", headers=headers)).json()
            rent = [item for item in page["items"] if item["recurring_id"]]
            if rent:
                break
            assert time.monotonic() < deadline, "the recurring expense did not appear"
            await asyncio.sleep(0.2)
        assert rent[0]["occurred_on"] == today and rent[0]["merchant"] == "Rent"
        await asyncio.sleep(0.5)
        assert len([m for m in smtp_server.messages if m["Subject"].startswith("Budget")]) == 1
