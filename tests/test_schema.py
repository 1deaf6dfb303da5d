"""The schema the migrations build: indexes that keep deletes and searches proportional to
the rows they touch, built concurrently on PostgreSQL, and the same history on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from expense_wise.db.migrate import alembic_config, upgrade
from tests.conftest import create_database, database_url, drop_database

# Foreign keys whose referencing columns no valid index starts with. A partial index counts
# only when its predicate is "column IS NOT NULL" (the rows a referenced delete looks for).
UNINDEXED_FOREIGN_KEYS = """
SELECT fk.conrelid::regclass::text, fk.conname
FROM pg_constraint AS fk
WHERE fk.contype = 'f' AND fk.connamespace = current_schema()::regnamespace
  AND NOT EXISTS (
    SELECT 1
    FROM pg_index AS ix
    WHERE ix.indrelid = fk.conrelid
      AND ix.indisvalid
      AND (ix.indkey::int2[])[0:cardinality(fk.conkey) - 1] @> fk.conkey
      AND (ix.indkey::int2[])[0:cardinality(fk.conkey) - 1] <@ fk.conkey
      AND (
        ix.indpred IS NULL
        OR (
          cardinality(fk.conkey) = 1
          AND pg_get_expr(ix.indpred, ix.indrelid) = format(
            '(%s IS NOT NULL)',
            (SELECT quote_ident(attname) FROM pg_attribute
             WHERE attrelid = fk.conrelid AND attnum = fk.conkey[1])
          )
        )
      )
  )
ORDER BY 1, 2
"""


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _rows(url: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(_conninfo(url), autocommit=True) as connection:
        return connection.execute(statement).fetchall()  # type: ignore[arg-type]


def test_every_foreign_key_has_an_index(pg_database: str) -> None:
    # A referenced row's delete (an expense, a user) looks up the rows that point at it; without
    # an index that is a scan of the whole referencing table per deleted row.
    assert _rows(pg_database, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'")[0][0] > 10
    assert _rows(pg_database, UNINDEXED_FOREIGN_KEYS) == []


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = create_database("ew_schema")
    yield database_url(name)
    drop_database(name)


def test_a_foreign_key_added_without_an_index_is_found(scratch_database: str) -> None:
    upgrade(scratch_database)
    with psycopg.connect(_conninfo(scratch_database), autocommit=True) as connection:
        connection.execute(
            "ALTER TABLE budgets ADD COLUMN copied_from uuid REFERENCES budgets (id)"
        )
    assert _rows(scratch_database, UNINDEXED_FOREIGN_KEYS) == [
        ("budgets", "budgets_copied_from_fkey")
    ]


def _index_state(url: str, name: str) -> tuple[bool, str] | None:
    rows = _rows(
        url,
        "SELECT ix.indisvalid, pg_get_indexdef(ix.indexrelid) FROM pg_index AS ix"
        f" WHERE ix.indexrelid = to_regclass('{name}')",
    )
    return (bool(rows[0][0]), str(rows[0][1])) if rows else None


def test_search_indexes_are_built_concurrently_and_a_failed_build_is_redone(
    scratch_database: str,
) -> None:
    upgrade(scratch_database, "0003")
    with psycopg.connect(_conninfo(scratch_database), autocommit=True) as connection:
        user = connection.execute(
            "INSERT INTO users (id, email, password_hash, default_currency, monthly_summary,"
            " created_at, updated_at) VALUES (gen_random_uuid(), 'a@example.com', '!', 'EUR',"
            " true, now(), now()) RETURNING id"
        ).fetchone()
        assert user is not None
        for _ in range(2):
            connection.execute(
                "INSERT INTO expenses (id, user_id, amount, currency, occurred_on, merchant,"
                " merchant_key, tags, created_at, updated_at) VALUES (gen_random_uuid(), %s,"
                " 10000, 'EUR', '2024-01-01', 'Same', 'same', '[]', now(), now())",
                (user[0],),
            )
        # What an interrupted CREATE INDEX CONCURRENTLY leaves: an INVALID index of that name.
        with pytest.raises(psycopg.errors.UniqueViolation):
            connection.execute(
                "CREATE UNIQUE INDEX CONCURRENTLY ix_expenses_merchant_trgm ON expenses (merchant)"
            )
    assert _index_state(scratch_database, "ix_expenses_merchant_trgm") == (
        False,
        "CREATE UNIQUE INDEX ix_expenses_merchant_trgm ON public.expenses USING btree (merchant)",
    )
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        upgrade(scratch_database)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    builds = [s for s in statements if s.startswith("CREATE INDEX")]
    assert len(builds) == 5
    assert all(s.startswith("CREATE INDEX CONCURRENTLY") for s in builds), builds
    assert "DROP INDEX CONCURRENTLY ix_expenses_merchant_trgm" in statements
    state = _index_state(scratch_database, "ix_expenses_merchant_trgm")
    assert state == (
        True,
        "CREATE INDEX ix_expenses_merchant_trgm ON public.expenses"
        " USING gin (lower((merchant)::text) gin_trgm_ops)",
    )
    trigram = [
        "ix_expenses_merchant_trgm",
        "ix_expenses_note_trgm",
        "ix_receipts_raw_text_trgm",
        "ix_receipts_merchant_trgm",
    ]
    for name in trigram:
        assert _index_state(scratch_database, name) is not None
    # Searches are planned from a large sample, so a rare term is not taken for a common one.
    targets = _rows(
        scratch_database,
        "SELECT attstattarget FROM pg_attribute WHERE attrelid = ANY(ARRAY["
        + ", ".join(f"'{name}'::regclass" for name in trigram)
        + "])",
    )
    assert targets == [(1000,)] * 4


def test_the_same_history_runs_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'expense-wise.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "0003")
    upgrade(url)
    with sqlite3.connect(tmp_path / "expense-wise.db") as connection:
        indexes = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert "ix_expenses_possible_duplicate_of" in indexes
    assert not any(name.endswith("_trgm") for name in indexes)
