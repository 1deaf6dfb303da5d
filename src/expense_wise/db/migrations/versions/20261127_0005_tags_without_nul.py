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

import json
from collections.abc import Sequence

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
    postgresql = connection.dialect.name == "postgresql"
    # LIKE escapes with a backslash on PostgreSQL only.
    pattern = "%\\\\u0000%" if postgresql else "%\\u0000%"
    for table in ("expenses", "recurring_expenses"):
        select = (
            f"SELECT id, tags::text FROM {table} WHERE tags::text LIKE %(pattern)s"
            if postgresql
            else f"SELECT id, tags FROM {table} WHERE tags LIKE :pattern"
        )
        update = (
            f"UPDATE {table} SET tags = %(tags)s::json WHERE id = %(id)s"
            if postgresql
            else f"UPDATE {table} SET tags = :tags WHERE id = :id"
        )
        for row_id, tags in connection.exec_driver_sql(select, {"pattern": pattern}).all():
            cleaned = json.dumps(_cleaned(json.loads(tags)))
            connection.exec_driver_sql(update, {"tags": cleaned, "id": row_id})


def downgrade() -> None:
    pass  # nothing to restore: the removed characters were never valid input
