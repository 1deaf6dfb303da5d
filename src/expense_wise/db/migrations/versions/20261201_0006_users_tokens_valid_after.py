"""users: tokens_valid_after, the moment before which every token of the user is void

A confirmed password reset or a logout-all sets it to now: access JWTs issued earlier stop
working at once (they are stateless, so the check compares their issue time with this column),
and refresh and personal tokens are revoked in the same transaction. NULL means never set.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: a metadata-only change on PostgreSQL, no table rewrite.
    op.add_column("users", sa.Column("tokens_valid_after", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("tokens_valid_after")
