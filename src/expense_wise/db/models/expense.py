from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from expense_wise.db.models.base import Base, Timestamps, UUIDPrimaryKey, trigram_index
from expense_wise.db.types import Money


class Expense(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "expenses"
    __table_args__ = (
        # Serves the default listing order and keyset pagination.
        Index("ix_expenses_user_occurred_id", "user_id", "occurred_on", "id"),
        # Serves the category guess (latest expenses at a merchant) and the duplicate check
        # (a merchant's expenses within a day of a date).
        Index(
            "ix_expenses_user_merchant_occurred",
            "user_id",
            "merchant_key",
            "occurred_on",
            "created_at",
        ),
        UniqueConstraint("user_id", "import_key"),
        UniqueConstraint("recurring_id", "recurring_occurrence"),
        # Serves the ON DELETE SET NULL check of every deleted expense.
        Index(
            "ix_expenses_possible_duplicate_of",
            "possible_duplicate_of",
            postgresql_where=text("possible_duplicate_of IS NOT NULL"),
            sqlite_where=text("possible_duplicate_of IS NOT NULL"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    merchant: Mapped[str] = mapped_column(String(200))
    merchant_key: Mapped[str] = mapped_column(String(200))  # normalised merchant
    category_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("categories.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    payment_method: Mapped[str | None] = mapped_column(String(50))
    receipt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("receipts.id", ondelete="SET NULL", use_alter=True), index=True
    )
    recurring_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("recurring_expenses.id", ondelete="SET NULL"), index=True
    )
    recurring_occurrence: Mapped[dt.date | None] = mapped_column(Date)
    # Another expense of the user with the same merchant and amount within a day, found when
    # this one was written; informational, nothing is blocked.
    possible_duplicate_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("expenses.id", ondelete="SET NULL")
    )
    # Identity of an imported CSV row, so importing the same file twice creates nothing.
    import_key: Mapped[str | None] = mapped_column(String(64))


trigram_index(Expense.merchant)
trigram_index(Expense.note)
