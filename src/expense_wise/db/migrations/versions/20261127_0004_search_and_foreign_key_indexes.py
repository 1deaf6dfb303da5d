"""indexes for text search and for the last unindexed foreign key, built without blocking writes

- expenses.possible_duplicate_of: the ON DELETE SET NULL check behind every deleted expense
  looked for rows pointing at it by reading the whole table (165 ms per delete at 1.5M rows).
  Partial, because almost every row has none.
- Trigram (pg_trgm) GIN indexes on lower(merchant) and lower(note) of expenses and on
  lower(raw_text) and lower(merchant) of receipts: a `q=` search is lower(x) LIKE '%term%',
  which these serve, and their statistics let the planner tell a rare term from a common one.

The planner picks between reading a term's matches through these indexes and walking the
user's expenses in listing order by how common it estimates the term, from ANALYZE's sample.
With the default statistics target a rare term was now and then estimated common (one of 100
histogram values happened to contain it), and the walk read a million rows; a target of 1000
makes one accidental hit worth 0.1%, still an index read. The tables are analyzed at the end
so that searches are planned with these statistics from the first request.

On PostgreSQL the indexes are built with CREATE INDEX CONCURRENTLY in an autocommit block:
expenses and receipts stay writable during the build. A concurrent build that failed earlier
(interrupted, or killed) leaves an INVALID index behind; it is dropped and built again. An index
that already exists and is valid (built ahead of the rollout by hand) is kept. pg_trgm is a
trusted extension, so the owner of the database can create it.

On SQLite only the foreign-key index is created; searches there read the user's expenses in
date order (see README, "Search").

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSSIBLE_DUPLICATE_INDEX = "ix_expenses_possible_duplicate_of"
POSSIBLE_DUPLICATE_COLUMNS = (
    "expenses (possible_duplicate_of) WHERE possible_duplicate_of IS NOT NULL"
)
TRIGRAM_INDEXES = {
    "ix_expenses_merchant_trgm": "expenses USING gin (lower(merchant) gin_trgm_ops)",
    "ix_expenses_note_trgm": "expenses USING gin (lower(note) gin_trgm_ops)",
    "ix_receipts_raw_text_trgm": "receipts USING gin (lower(raw_text) gin_trgm_ops)",
    "ix_receipts_merchant_trgm": "receipts USING gin (lower(merchant) gin_trgm_ops)",
}

TRIGRAM_STATISTICS = 1000


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create_concurrently(name: str, definition: str) -> None:
    invalid = op.get_bind().exec_driver_sql(
        "SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(%(name)s) AND NOT indisvalid",
        {"name": name},
    )
    if invalid.first() is not None:
        op.execute(f"DROP INDEX CONCURRENTLY {name}")
    op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def upgrade() -> None:
    if not _is_postgresql():
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {POSSIBLE_DUPLICATE_INDEX} ON {POSSIBLE_DUPLICATE_COLUMNS}"
        )
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.get_context().autocommit_block():
        _create_concurrently(POSSIBLE_DUPLICATE_INDEX, POSSIBLE_DUPLICATE_COLUMNS)
        for name, definition in TRIGRAM_INDEXES.items():
            _create_concurrently(name, definition)
            op.execute(f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS {TRIGRAM_STATISTICS}")
        op.execute("ANALYZE expenses, receipts")


def downgrade() -> None:
    if not _is_postgresql():
        op.execute(f"DROP INDEX IF EXISTS {POSSIBLE_DUPLICATE_INDEX}")
        return
    # The pg_trgm extension stays: other objects of the database may use it.
    with op.get_context().autocommit_block():
        for name in [POSSIBLE_DUPLICATE_INDEX, *TRIGRAM_INDEXES]:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
