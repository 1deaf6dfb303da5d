"""expenses: index the usual-category lookup by recency

The category guess on every new expense reads the user's most recent expenses at the same
merchant; (user_id, merchant_key, created_at) serves that directly and still serves the
duplicate check's (user_id, merchant_key) prefix, so it replaces the older index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_expenses_user_merchant_created",
        "expenses",
        ["user_id", "merchant_key", "created_at"],
    )
    op.drop_index("ix_expenses_user_merchant_key", table_name="expenses")


def downgrade() -> None:
    op.create_index("ix_expenses_user_merchant_key", "expenses", ["user_id", "merchant_key"])
    op.drop_index("ix_expenses_user_merchant_created", table_name="expenses")
