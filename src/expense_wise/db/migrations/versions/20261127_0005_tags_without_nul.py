"""tags: remove NUL characters stored before they were refused

A tag with a NUL character (JSON "\\u0000") was accepted and stored. PostgreSQL cannot turn it
into text or jsonb, so every tag filter of its owner and the CSV export failed on it. Input now
refuses NUL; this removes it from the tags already stored (expenses and recurring templates),
dropping tags it leaves empty or duplicated. Only the few rows whose JSON text holds the escape
are read and written.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cleaned(tags: list[str]) -> list[str]:
    kept: dict[str, None] = {}
    for tag in tags:
        cleaned = " ".join(tag.replace("\x00", "").split())
        if cleaned:
            kept.setdefault(cleaned, None)
    return list(kept)


def upgrade() -> None:
    connection = op.get_bind()
    for name in ("expenses", "recurring_expenses"):
        table = sa.table(name, sa.column("id", sa.Uuid()), sa.column("tags", sa.JSON()))
        # The JSON text holds a NUL as the escape \u0000.
        stored = connection.execute(
            sa.select(table.c.id, table.c.tags).where(
                sa.cast(table.c.tags, sa.Text).contains("\\u0000", autoescape=True)
            )
        )
        for row_id, tags in stored.all():
            connection.execute(
                sa.update(table).where(table.c.id == row_id).values(tags=_cleaned(tags))
            )


def downgrade() -> None:
    pass  # nothing to restore: the removed characters were never valid input
