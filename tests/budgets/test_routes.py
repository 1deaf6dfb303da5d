from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from tests.conftest import (
    Account,
    SmtpServer,
    expense_body,
    register,
    run_sql,
    run_worker_burst,
    running_app,
    served_app,
)

TODAY = dt.datetime.now(dt.UTC).date()
LAST_MONTH = TODAY.replace(day=1) - dt.timedelta(days=1)


async def category_id(client: AsyncTestClient[Any], account: Account, name: str) -> str:
    categories = (await client.get("/api/v1/categories", headers=account.headers)).json()
    return next(c["id"] for c in categories if c["name"] == name)


async def spend(client: AsyncTestClient[Any], account: Account, amount: str, **fields: Any) -> None:
    body = expense_body(amount=amount, occurred_on=TODAY.isoformat(), **fields)
    response = await client.post("/api/v1/expenses", json=body, headers=account.headers)
    assert response.status_code == 201, response.text


async def test_budget_crud_with_current_spending(
    client: AsyncTestClient[Any], alice: Account
) -> None:
    groceries = await category_id(client, alice, "Groceries")
    await spend(client, alice, "30.00", category_id=groceries)
    await spend(client, alice, "12.50", category_id=await category_id(client, alice, "Dining"))
    await spend(client, alice, "99.00", category_id=groceries, currency="USD")  # other currency
    old = expense_body(amount="500", occurred_on=LAST_MONTH.isoformat(), category_id=groceries)
    assert (await client.post("/api/v1/expenses", json=old, headers=alice.headers)).is_success

    created = await client.post(
        "/api/v1/budgets",
        json={"category_id": groceries, "amount": "100", "currency": "EUR"},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    budget = created.json()
    assert budget["spent"] == "30.00" and budget["remaining"] == "70.00"
    assert budget["alert_thresholds"] == [80, 100] and budget["period"] == "monthly"
    assert budget["period_start"] == TODAY.replace(day=1).isoformat()

    everything = await client.post(
        "/api/v1/budgets",
        json={"amount": "40", "alert_thresholds": [100, 50, 50]},
        headers=alice.headers,
    )
    assert everything.status_code == 201
    assert everything.json()["currency"] == "EUR"  # the user's default
    assert everything.json()["alert_thresholds"] == [50, 100]
    assert everything.json()["spent"] == "42.50"
    assert everything.json()["remaining"] == "-2.50"

    listed = (await client.get("/api/v1/budgets", headers=alice.headers)).json()
    assert [item["id"] for item in listed] == [budget["id"], everything.json()["id"]]

    url = f"/api/v1/budgets/{budget['id']}"
    patched = await client.patch(
        url, json={"amount": "25.5", "alert_thresholds": [90]}, headers=alice.headers
    )
    assert patched.status_code == 200
    assert patched.json()["amount"] == "25.50" and patched.json()["remaining"] == "-4.50"
    assert patched.json()["category_id"] == groceries
    assert (await client.get(url, headers=alice.headers)).json()["alert_thresholds"] == [90]

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert (await client.get(url, headers=alice.headers)).status_code == 404


async def test_invalid_budgets_are_refused(client: AsyncTestClient[Any], alice: Account) -> None:
    bad_bodies = [
        {"amount": "0"},
        {"amount": "-5"},
        {"amount": "10.001", "currency": "EUR"},
        {"amount": "10", "currency": "XXX"},
        {"amount": "10", "period": "weekly"},
        {"amount": "10", "alert_thresholds": [0]},
        {"amount": "10", "alert_thresholds": [80] * 11},
        {"amount": "10", "unknown": True},
    ]
    for body in bad_bodies:
        response = await client.post("/api/v1/budgets", json=body, headers=alice.headers)
        assert response.status_code == 422, (body, response.text)
    # A well-formed id of no category of the user's conflicts with the data.
    missing = {"amount": "10", "category_id": "7b0c8a8e-0000-4000-8000-000000000000"}
    response = await client.post("/api/v1/budgets", json=missing, headers=alice.headers)
    assert response.status_code == 409, response.text
    assert (await client.get("/api/v1/budgets", headers=alice.headers)).json() == []


async def test_other_users_budgets_are_not_found(
    client: AsyncTestClient[Any], alice: Account, bob: Account
) -> None:
    created = await client.post("/api/v1/budgets", json={"amount": "10"}, headers=alice.headers)
    url = f"/api/v1/budgets/{created.json()['id']}"
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    assert (await client.patch(url, json={"amount": "1"}, headers=bob.headers)).status_code == 404
    assert (await client.delete(url, headers=bob.headers)).status_code == 404
    assert (await client.get("/api/v1/budgets", headers=bob.headers)).json() == []
    # Nor can a budget be put on someone else's category.
    foreign = await category_id(client, alice, "Travel")
    response = await client.post(
        "/api/v1/budgets", json={"amount": "10", "category_id": foreign}, headers=bob.headers
    )
    assert response.status_code == 409
    assert (await client.get(url, headers=alice.headers)).json()["amount"] == "10.00"


def outbox_kinds(env: dict[str, str]) -> list[str]:
    return [kind for (kind,) in run_sql(env, "SELECT kind FROM outbox_emails")]


def budget_alerts(smtp_server: SmtpServer) -> list[Any]:
    return [m for m in smtp_server.messages if m["Subject"].startswith("Budget alert")]


async def test_each_threshold_alerts_once_under_concurrent_expenses(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with (
        served_app(mail_env) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        account = await register(http, "budgeter@example.com")  # type: ignore[arg-type]
        created = await http.post(
            "/api/v1/budgets",
            json={"amount": "100", "currency": "EUR", "alert_thresholds": [50, 100]},
            headers=account.headers,
        )
        assert created.status_code == 201

        # 10 concurrent expenses of 10 EUR: only a writer that sees all the others' expenses
        # can tell that 100% was reached.
        await asyncio.gather(*(spend(http, account, "10.00") for _ in range(10)))  # type: ignore[arg-type]
        assert outbox_kinds(mail_env).count("budget_alert") == 2
        # More spending in the same period, and a PATCH, raise nothing new.
        await spend(http, account, "5.00")  # type: ignore[arg-type]
        expenses = (await http.get("/api/v1/expenses", headers=account.headers)).json()
        patched = expenses["items"][0]
        patch = await http.patch(
            f"/api/v1/expenses/{patched['id']}",
            json={"amount": "50"},
            headers=account.headers,
        )
        assert patch.status_code == 200
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(3)  # verification + two alerts
        await asyncio.sleep(0.3)

        alerts = budget_alerts(smtp_server)
        assert sorted(m["Subject"].split()[2] for m in alerts) == ["100%", "50%"]
        assert all(m["To"] == "budgeter@example.com" for m in alerts)
        text = alerts[0].get_body(preferencelist=("plain",)).get_content()
        assert "100.00 EUR budget for all spending" in text
        budget = (await http.get("/api/v1/budgets", headers=account.headers)).json()[0]
        assert Decimal(budget["spent"]) == 105 - Decimal(patched["amount"]) + 50


async def test_expenses_outside_the_budget_raise_no_alert(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        account = await register(client, "careful@example.com")
        groceries = await category_id(client, account, "Groceries")
        await client.post(
            "/api/v1/budgets",
            json={"amount": "10", "currency": "EUR", "category_id": groceries},
            headers=account.headers,
        )
        await spend(client, account, "50", category_id=await category_id(client, account, "Dining"))
        await spend(client, account, "50", category_id=groceries, currency="USD")
        old = expense_body(amount="50", occurred_on=LAST_MONTH.isoformat(), category_id=groceries)
        assert (await client.post("/api/v1/expenses", json=old, headers=account.headers)).is_success
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(1)
        await asyncio.sleep(0.3)
        assert budget_alerts(smtp_server) == []

        # 9 of 10 EUR of groceries in this month and currency reaches 80%, not 100%.
        await spend(client, account, "9", category_id=groceries)
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(2)
        [alert] = budget_alerts(smtp_server)
        assert alert["Subject"].startswith("Budget alert: 80% of Groceries")
