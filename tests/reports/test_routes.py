from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.conftest import register, run_sql
from tests.expenses.test_routes import create


async def test_summary_by_category_keeps_currencies_apart(client, alice, bob):
    categories = (await client.get("/api/v1/categories", headers=alice.headers)).json()
    dining = next(c["id"] for c in categories if c["name"] == "Dining")
    await create(client, alice, amount="10.10", category_id=dining, occurred_on="2024-05-02")
    await create(client, alice, amount="0.20", category_id=dining, occurred_on="2024-05-03")
    await create(
        client,
        alice,
        amount="5",
        currency="USD",
        category_id=dining,
        occurred_on="2024-05-04",
        merchant="Diner",
    )
    await create(client, alice, amount="1", occurred_on="2024-05-05", merchant="Unsorted")
    await create(client, alice, amount="99", occurred_on="2024-07-01")  # outside the range
    await create(client, bob, amount="1000", occurred_on="2024-05-02")  # another user

    response = await client.get(
        "/api/v1/reports/summary?from=2024-05-01&to=2024-05-31&group_by=category",
        headers=alice.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2024-05-01" and body["to"] == "2024-05-31"
    assert body["group_by"] == "category"
    groups = {(g["label"], g["currency"]): (g["total"], g["count"]) for g in body["groups"]}
    assert groups == {
        ("Dining", "EUR"): ("10.30", 2),
        ("Dining", "USD"): ("5.00", 1),
        ("Uncategorized", "EUR"): ("1.00", 1),
    }
    assert body["totals"] == [
        {"currency": "EUR", "total": "11.30", "count": 3},
        {"currency": "USD", "total": "5.00", "count": 1},
    ]


async def test_summary_by_month_and_tag(client, alice):
    await create(client, alice, amount="1.10", occurred_on="2024-01-31", tags=["a", "b"])
    await create(client, alice, amount="2.20", occurred_on="2024-02-01", tags=["a"])
    await create(client, alice, amount="3.30", occurred_on="2024-02-29")

    by_month = (
        await client.get("/api/v1/reports/summary?group_by=month", headers=alice.headers)
    ).json()
    assert [(g["key"], g["total"], g["count"]) for g in by_month["groups"]] == [
        ("2024-01", "1.10", 1),
        ("2024-02", "5.50", 2),
    ]
    by_tag = (
        await client.get("/api/v1/reports/summary?group_by=tag", headers=alice.headers)
    ).json()
    groups = {g["label"]: (g["total"], g["count"]) for g in by_tag["groups"]}
    assert groups == {"a": ("3.30", 2), "b": ("1.10", 1), "(untagged)": ("3.30", 1)}
    # An expense with two tags is counted once in the totals.
    assert by_tag["totals"] == [{"currency": "EUR", "total": "6.60", "count": 3}]


async def test_summary_rejects_bad_parameters(client, alice):
    for query in ("group_by=week", "from=2024-13-01", "to=2024-01-01&to=2024-02-01"):
        response = await client.get(f"/api/v1/reports/summary?{query}", headers=alice.headers)
        assert response.status_code == 422, query
    # from after to is an empty range, not an error.
    empty = await client.get(
        "/api/v1/reports/summary?from=2024-05-01&to=2024-01-01", headers=alice.headers
    )
    assert empty.json()["totals"] == []


async def test_summary_on_the_embedded_default(sqlite_client):
    from tests.conftest import register

    account = await register(sqlite_client)
    await create(sqlite_client, account, amount="1.25", occurred_on="2024-03-01", tags=["x"])
    await create(sqlite_client, account, amount="2.50", occurred_on="2024-03-09")
    for group_by in ("month", "tag", "category"):
        response = await sqlite_client.get(
            f"/api/v1/reports/summary?group_by={group_by}", headers=account.headers
        )
        assert response.json()["totals"] == [{"currency": "EUR", "total": "3.75", "count": 2}]


async def test_tag_report_counts_each_expense_once_on_both_databases(client, sqlite_client):
    for test_client in (client, sqlite_client):
        account = await register(test_client)
        await create(test_client, account, amount="1.10", tags=["a", "b", "c"])
        await create(test_client, account, amount="2.20", tags=["b"])
        await create(test_client, account, amount="300", currency="JPY", tags=["a"])
        await create(test_client, account, amount="3.30")
        body = (
            await test_client.get("/api/v1/reports/summary?group_by=tag", headers=account.headers)
        ).json()
        assert [(g["key"], g["currency"], g["total"], g["count"]) for g in body["groups"]] == [
            ("a", "EUR", "1.10", 1),
            ("a", "JPY", "300", 1),
            ("b", "EUR", "3.30", 2),
            ("c", "EUR", "1.10", 1),
            (None, "EUR", "3.30", 1),
        ]
        assert body["totals"] == [
            {"currency": "EUR", "total": "6.60", "count": 3},
            {"currency": "JPY", "total": "300", "count": 1},
        ]


SEED_TAGGED = """
INSERT INTO expenses (id, user_id, amount, currency, occurred_on, merchant, merchant_key, tags,
                      created_at, updated_at)
SELECT gen_random_uuid(), %s, 10000, CASE WHEN g %% 4 = 0 THEN 'USD' ELSE 'EUR' END,
       date '2024-01-01' + g %% 60, 'Shop', 'shop',
       (CASE g %% 3 WHEN 0 THEN '[]' WHEN 1 THEN '["x"]' ELSE '["x", "y"]' END)::json, now(), now()
FROM generate_series(1, 3000) AS g
"""


@pytest.mark.parametrize("group_by", ["tag", "category", "month"])
async def test_reports_read_only_their_groups_from_the_database(client, alice, base_env, group_by):
    run_sql(base_env, SEED_TAGGED, alice.id)
    fetched: list[tuple[str, int]] = []

    def record(_conn, cursor, statement, *_args):
        fetched.append((statement, cursor.rowcount))

    engine = client.app.state.engine.sync_engine
    event.listen(engine, "after_cursor_execute", record)
    try:
        response = await client.get(
            f"/api/v1/reports/summary?group_by={group_by}", headers=alice.headers
        )
    finally:
        event.remove(engine, "after_cursor_execute", record)
    body = response.json()
    assert sum(total["count"] for total in body["totals"]) == 3000
    groups = len(body["groups"])
    # Every statement on expenses came back with at most one row per group (a server-side
    # cursor, whose size is unknown up front, would show -1).
    reads = [rows for statement, rows in fetched if "FROM expenses" in statement]
    assert reads and all(0 <= rows <= groups for rows in reads), (groups, reads)
