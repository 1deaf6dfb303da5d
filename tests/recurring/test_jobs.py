"""Occurrences are created by a real ARQ worker, exactly once, including after downtime."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import enqueue_job, register, run_sql, run_worker_burst, running_app

TODAY = dt.datetime.now(dt.UTC).date()


async def occurrence_dates(client: AsyncTestClient[Any], headers: dict[str, str]) -> list[str]:
    page = (await client.get("/api/v1/expenses?limit=200", headers=headers)).json()
    return sorted(item["occurred_on"] for item in page["items"] if item["recurring_id"])


async def test_occurrences_are_created_once_and_caught_up_after_downtime(
    base_env: dict[str, str],
) -> None:
    async with running_app(base_env) as client:
        account = await register(client)
        starts_on = TODAY - dt.timedelta(days=10)
        created = await client.post(
            "/api/v1/recurring-expenses",
            json={
                "amount": "4.20",
                "currency": "EUR",
                "merchant": "Bakery",
                "frequency": "daily",
                "starts_on": starts_on.isoformat(),
            },
            headers=account.headers,
        )
        assert created.status_code == 201
        template_id = created.json()["id"]
        # No worker ran yet: the template exists, its occurrences do not.
        assert await occurrence_dates(client, account.headers) == []

        await run_worker_burst(base_env)  # the job queued by the POST catches up from starts_on
        expected = [(starts_on + dt.timedelta(days=n)).isoformat() for n in range(11)]
        assert await occurrence_dates(client, account.headers) == expected
        expense = (await client.get("/api/v1/expenses?limit=1", headers=account.headers)).json()
        assert expense["items"][0]["recurring_id"] == template_id
        assert expense["items"][0]["amount"] == "4.20"

        # The worker was down for the last five days: those occurrences are missing.
        run_sql(
            base_env,
            "DELETE FROM expenses WHERE recurring_occurrence > %s",
            TODAY - dt.timedelta(days=5),
        )
        run_sql(
            base_env,
            "UPDATE recurring_expenses SET generated_through = %s",
            TODAY - dt.timedelta(days=5),
        )
        await enqueue_job(base_env, "generate_recurring_expenses")  # what the cron queues
        await enqueue_job(base_env, "generate_recurring_expenses", template_id)
        await run_worker_burst(base_env)
        assert await occurrence_dates(client, account.headers) == expected

        # Running again, even with the bookkeeping lost, creates nothing twice.
        run_sql(base_env, "UPDATE recurring_expenses SET generated_through = NULL")
        await enqueue_job(base_env, "generate_recurring_expenses")
        await run_worker_burst(base_env)
        assert await occurrence_dates(client, account.headers) == expected
        metrics = (await client.get("/metrics")).text
        assert "recurring_occurrences_created_total" in metrics


async def test_embedded_default_creates_occurrences_in_process(
    sqlite_client: AsyncTestClient[Any],
) -> None:
    account = await register(sqlite_client)
    created = await sqlite_client.post(
        "/api/v1/recurring-expenses",
        json={
            "amount": "15",
            "merchant": "Gym",
            "frequency": "weekly",
            "starts_on": (TODAY - dt.timedelta(days=14)).isoformat(),
        },
        headers=account.headers,
    )
    assert created.status_code == 201
    expected = [(TODAY - dt.timedelta(days=n)).isoformat() for n in (14, 7, 0)]
    deadline = time.monotonic() + 15
    while await occurrence_dates(sqlite_client, account.headers) != expected:
        assert time.monotonic() < deadline, "occurrences not created after 15 s"
        await asyncio.sleep(0.1)
    listed = (await sqlite_client.get("/api/v1/recurring-expenses", headers=account.headers)).json()
    assert listed[0]["generated_through"] == TODAY.isoformat()
    assert listed[0]["next_occurrence"] == (TODAY + dt.timedelta(days=7)).isoformat()
