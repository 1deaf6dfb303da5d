from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Index, MetaData, func
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column

from expense_wise.db.types import UTCDateTime, utcnow

# Deterministic constraint names so Alembic migrations are the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def trigram_index(column: InstrumentedAttribute[Any]) -> Index:
    """A pg_trgm GIN index on lower(column), which serves lower(column) LIKE '%term%' searches;
    PostgreSQL only (migration 0004 builds them)."""
    table = column.property.columns[0].table.name
    label = f"{column.key}_lower"
    return Index(
        f"ix_{table}_{column.key}_trgm",
        func.lower(column).label(label),
        postgresql_using="gin",
        postgresql_ops={label: "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql")
