"""expenses: index a merchant's expenses by date

The duplicate check on every write looks for the same merchant and amount within a day of the
expense's date. Indexed by (user_id, merchant_key, created_at) it had to read all of a
merchant's expenses; (user_id, merchant_key, occurred_on, created_at) reads a few days' worth,
and its reverse order serves the category guess (the latest expenses at the merchant) too, so
it replaces the older index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_expenses_user_merchant_occurred",
        "expenses",
        ["user_id", "merchant_key", "occurred_on", "created_at"],
    )
    op.drop_index("ix_expenses_user_merchant_created", table_name="expenses")


def downgrade() -> None:
    op.create_index(
        "ix_expenses_user_merchant_created",
        "expenses",
        ["user_id", "merchant_key", "created_at"],
    )
    op.drop_index("ix_expenses_user_merchant_occurred", table_name="expenses")
