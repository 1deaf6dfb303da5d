"""`q=` searches on PostgreSQL read their matches through the trigram indexes instead of
filtering every expense or receipt of the user, so a term that matches nothing is as quick as
one that matches everything."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from tests.conftest import run_sql

SEED_EXPENSES = """
INSERT INTO expenses (id, user_id, amount, currency, occurred_on, merchant, merchant_key, note,
                      tags, created_at, updated_at)
SELECT gen_random_uuid(), users.id, 10000, 'EUR', date '2020-01-01' + g %% 1500,
       'Shop ' || g %% 300, 'shop ' || g %% 300,
       CASE WHEN g %% 4 = 0 THEN 'bought item ' || g END, '[]', now(), now()
FROM generate_series(1, 20000) AS g, unnest(%s::uuid[]) AS users(id)
"""
SEED_RECEIPTS = """
INSERT INTO receipts (id, user_id, status, sha256, content_type, size, storage_key, attempts,
                      merchant, confidence, raw_text, created_at, updated_at)
SELECT gen_random_uuid(), users.id, 'done', md5(users.id::text || g) || md5(g::text), 'image/png',
       100, 'k/' || users.id || '/' || g, 1, 'Shop ' || g %% 300, '{}',
       'SHOP ' || g %% 300 || E'\\nTOTAL ' || g || E'.00\\nTHANK YOU', now(), now()
FROM generate_series(1, 5000) AS g, unnest(%s::uuid[]) AS users(id)
"""


async def _plan_of(
    client: Any, env: dict[str, str], path: str, headers: dict[str, str], found: int
) -> str:
    """The plan PostgreSQL chooses for the search statements `path` runs (with their
    parameters); the answer holds `found` items."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        statements.append((statement, parameters))

    engine = client.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await client.get(path, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == found
    conninfo = (
        make_url(env["DATABASE_URL"])
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    plans = []
    with psycopg.connect(conninfo) as connection:
        for statement, parameters in statements:
            if " LIKE " in statement:
                row = connection.execute(
                    "EXPLAIN (FORMAT JSON) " + statement, parameters
                ).fetchone()
                assert row is not None
                plans.append(json.dumps(row[0]))
    assert plans, statements
    return "\n".join(plans)


@pytest.mark.parametrize(("term", "found"), [("zzqx", 0), ("item 4244", 1)])
async def test_expense_searches_read_matches_through_trigram_indexes(
    client, alice, bob, base_env, term, found
):
    run_sql(base_env, SEED_EXPENSES, [alice.id, bob.id])
    run_sql(base_env, "VACUUM ANALYZE expenses")
    plan = await _plan_of(client, base_env, f"/api/v1/expenses?q={term}", alice.headers, found)
    assert "ix_expenses_merchant_trgm" in plan
    assert "ix_expenses_note_trgm" in plan


async def test_receipt_searches_read_the_ocr_text_through_a_trigram_index(
    client, alice, bob, base_env
):
    run_sql(base_env, SEED_RECEIPTS, [alice.id, bob.id])
    run_sql(base_env, "VACUUM ANALYZE receipts")
    plan = await _plan_of(client, base_env, "/api/v1/receipts?q=total%20zzqx", alice.headers, 0)
    assert "ix_receipts_raw_text_trgm" in plan
    assert "ix_receipts_merchant_trgm" in plan
