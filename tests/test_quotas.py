"""Per-account quotas (QUOTA_* settings) and the recurring backfill limit: a clear 409 or 422,
nothing half-written, and one account's count never limits another's."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from expense_wise.settings import SettingsError, load_settings
from tests.conftest import register, running_app

TODAY = dt.datetime.now(dt.UTC).date()
DEFAULT_CATEGORIES = 10  # every account starts with these


@pytest.fixture
async def limited(base_env: dict[str, str]) -> AsyncIterator[Any]:
    env = {
        **base_env,
        "QUOTA_CATEGORIES": str(DEFAULT_CATEGORIES + 2),
        "QUOTA_RECURRING_EXPENSES": "2",
        "QUOTA_PERSONAL_TOKENS": "2",
        "QUOTA_BUDGETS": "2",
        "RECURRING_MAX_BACKFILL_DAYS": "30",
    }
    async with running_app(env) as client:
        yield client


def quota_body(resource: str, limit: int, count: int, adding: int = 1) -> dict[str, Any]:
    adds = f", this would add {adding}" if adding > 1 else ""
    return {
        "status_code": 409,
        "detail": f"at most {limit} {resource} per account (it has {count}{adds}); "
        "nothing was created",
        "code": "quota_exceeded",
        "resource": resource,
        "limit": limit,
    }


def recurring(n: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "amount": "5",
        "merchant": f"Sub {n}",
        "frequency": "monthly",
        "starts_on": TODAY.isoformat(),
    }
    return {**body, **overrides}


# path, body of the n-th creation, resource, limit, rows the account starts with
CASES = [
    (
        "/api/v1/categories",
        lambda n: {"name": f"Extra {n}"},
        "categories",
        DEFAULT_CATEGORIES + 2,
        DEFAULT_CATEGORIES,
    ),
    ("/api/v1/recurring-expenses", recurring, "recurring expenses", 2, 0),
    ("/api/v1/tokens", lambda n: {"name": f"script {n}"}, "personal access tokens", 2, 0),
    ("/api/v1/budgets", lambda n: {"amount": str(100 + n)}, "budgets", 2, 0),
]


@pytest.mark.parametrize(
    ("path", "body", "resource", "limit", "initial"),
    CASES,
    ids=["categories", "recurring", "tokens", "budgets"],
)
async def test_each_quota_answers_409_and_counts_per_account(
    limited, path, body, resource, limit, initial
):
    alice = await register(limited)
    bob = await register(limited)
    created = []
    for n in range(limit - initial):
        response = await limited.post(path, json=body(n), headers=alice.headers)
        assert response.status_code in (200, 201), response.text
        created.append(response.json()["id"])
    refused = await limited.post(path, json=body(99), headers=alice.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json() == quota_body(resource, limit, limit)
    listed = await limited.get(path, headers=alice.headers)
    assert len(listed.json()) == limit  # nothing was written by the refused request

    # Alice at her limit does not limit Bob.
    for n in range(limit - initial):
        response = await limited.post(path, json=body(n), headers=bob.headers)
        assert response.status_code in (200, 201), response.text

    # Deleting one makes room again.
    deleted = await limited.delete(f"{path}/{created[0]}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    again = await limited.post(path, json=body(100), headers=alice.headers)
    assert again.status_code in (200, 201), again.text


async def test_concurrent_creations_cannot_pass_the_quota_together(limited):
    alice = await register(limited)
    responses = await asyncio.gather(
        *(
            limited.post("/api/v1/budgets", json={"amount": str(10 + n)}, headers=alice.headers)
            for n in range(6)
        )
    )
    assert sorted(response.status_code for response in responses) == [201, 201, 409, 409, 409, 409]
    listed = await limited.get("/api/v1/budgets", headers=alice.headers)
    assert len(listed.json()) == 2


def csv_file(rows: list[str]) -> dict[str, Any]:
    content = "date,amount,merchant,category\n" + "\n".join(rows) + "\n"
    return {"file": ("import.csv", content.encode(), "text/csv")}


async def test_an_import_past_the_category_quota_is_refused_whole(limited):
    alice = await register(limited)
    bob = await register(limited)
    rows = [
        "2024-01-01,5,Shop A,Groceries",  # an existing category
        "2024-01-02,6,Shop B,New One",
        "2024-01-03,7,Shop C,New Two",
        "2024-01-04,8,Shop D,New Three",
    ]
    refused = await limited.post(
        "/api/v1/expenses/import", files=csv_file(rows), headers=alice.headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.json() == quota_body(
        "categories", DEFAULT_CATEGORIES + 2, DEFAULT_CATEGORIES, adding=3
    )
    expenses = await limited.get("/api/v1/expenses", headers=alice.headers)
    assert expenses.json()["items"] == []
    categories = await limited.get("/api/v1/categories", headers=alice.headers)
    assert len(categories.json()) == DEFAULT_CATEGORIES

    # Two new categories fit: that import goes through, for Alice and for Bob alike.
    for account in (alice, bob):
        accepted = await limited.post(
            "/api/v1/expenses/import", files=csv_file(rows[:3]), headers=account.headers
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json() == {"imported": 3, "skipped_duplicates": 0}
    categories = await limited.get("/api/v1/categories", headers=alice.headers)
    assert len(categories.json()) == DEFAULT_CATEGORIES + 2


BACKFILL_MESSAGE = "must be at most 30 days ago (RECURRING_MAX_BACKFILL_DAYS)"


async def test_recurring_backfill_is_limited_on_create_and_patch(limited):
    alice = await register(limited)
    too_far = (TODAY - dt.timedelta(days=31)).isoformat()
    refused = await limited.post(
        "/api/v1/recurring-expenses",
        json=recurring(1, frequency="daily", starts_on=too_far),
        headers=alice.headers,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json() == {
        "status_code": 422,
        "detail": f"starts_on: {BACKFILL_MESSAGE}",
        "errors": [{"field": "starts_on", "message": BACKFILL_MESSAGE}],
    }
    furthest = (TODAY - dt.timedelta(days=30)).isoformat()
    accepted = await limited.post(
        "/api/v1/recurring-expenses",
        json=recurring(2, frequency="daily", starts_on=furthest),
        headers=alice.headers,
    )
    assert accepted.status_code == 201, accepted.text
    patched = await limited.patch(
        f"/api/v1/recurring-expenses/{accepted.json()['id']}",
        json={"starts_on": too_far},
        headers=alice.headers,
    )
    assert patched.status_code == 422, patched.text
    assert patched.json()["errors"] == [{"field": "starts_on", "message": BACKFILL_MESSAGE}]


def test_quota_settings_default_and_refuse_bad_values():
    quotas = load_settings({}).quotas
    assert (
        quotas.categories,
        quotas.recurring_expenses,
        quotas.personal_tokens,
        quotas.budgets,
        quotas.recurring_backfill_days,
    ) == (500, 100, 20, 100, 366)
    with pytest.raises(SettingsError) as raised:
        load_settings({"QUOTA_CATEGORIES": "0", "RECURRING_MAX_BACKFILL_DAYS": "a year"})
    problems = "\n".join(raised.value.problems)
    assert "QUOTA_CATEGORIES" in problems
    assert "RECURRING_MAX_BACKFILL_DAYS" in problems
