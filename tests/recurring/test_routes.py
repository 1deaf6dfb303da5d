from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import Account

TODAY = dt.datetime.now(dt.UTC).date()


def template(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": "9.99",
        "currency": "EUR",
        "merchant": "Streaming Service",
        "frequency": "monthly",
        "starts_on": (TODAY + dt.timedelta(days=30)).isoformat(),
        "tags": ["subscription"],
    }
    body.update(overrides)
    return body


async def test_recurring_expense_crud(client: AsyncTestClient[Any], alice: Account) -> None:
    created = await client.post(
        "/api/v1/recurring-expenses", json=template(interval=2), headers=alice.headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["amount"] == "9.99" and body["frequency"] == "monthly" and body["interval"] == 2
    assert body["next_occurrence"] == body["starts_on"]
    assert body["generated_through"] is None and body["ends_on"] is None

    url = f"/api/v1/recurring-expenses/{body['id']}"
    assert (await client.get(url, headers=alice.headers)).json()["merchant"] == "Streaming Service"
    listed = (await client.get("/api/v1/recurring-expenses", headers=alice.headers)).json()
    assert [item["id"] for item in listed] == [body["id"]]

    ends_on = (TODAY + dt.timedelta(days=400)).isoformat()
    patched = await client.patch(
        url, json={"amount": "12", "ends_on": ends_on, "note": "family plan"}, headers=alice.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["amount"] == "12.00" and patched.json()["ends_on"] == ends_on
    assert patched.json()["note"] == "family plan" and patched.json()["interval"] == 2

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert (await client.get(url, headers=alice.headers)).status_code == 404


async def test_invalid_recurring_expenses_are_refused(
    client: AsyncTestClient[Any], alice: Account
) -> None:
    starts = TODAY.isoformat()
    bad_bodies = [
        template(frequency="hourly"),
        template(interval=0),
        template(amount="0"),
        template(amount="1.5", currency="JPY"),
        template(merchant=""),
        template(starts_on=starts, ends_on=(TODAY - dt.timedelta(days=1)).isoformat()),
        template(starts_on="1990-01-01"),
        {"amount": "1", "merchant": "x", "frequency": "daily"},  # no starts_on
    ]
    for body in bad_bodies:
        response = await client.post("/api/v1/recurring-expenses", json=body, headers=alice.headers)
        assert response.status_code == 422, (body, response.text)
    # A well-formed id of no category of the user's conflicts with the data.
    missing = template(category_id="7b0c8a8e-0000-4000-8000-000000000000")
    response = await client.post("/api/v1/recurring-expenses", json=missing, headers=alice.headers)
    assert response.status_code == 409, response.text
    assert (await client.get("/api/v1/recurring-expenses", headers=alice.headers)).json() == []


async def test_other_users_recurring_expenses_are_not_found(
    client: AsyncTestClient[Any], alice: Account, bob: Account
) -> None:
    created = await client.post(
        "/api/v1/recurring-expenses", json=template(), headers=alice.headers
    )
    url = f"/api/v1/recurring-expenses/{created.json()['id']}"
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    assert (await client.patch(url, json={"amount": "1"}, headers=bob.headers)).status_code == 404
    assert (await client.delete(url, headers=bob.headers)).status_code == 404
    assert (await client.get("/api/v1/recurring-expenses", headers=bob.headers)).json() == []
    assert (await client.get(url, headers=alice.headers)).json()["amount"] == "9.99"
