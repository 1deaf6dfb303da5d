from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from expense_wise.db.models.base import Base, Timestamps, UUIDPrimaryKey
from expense_wise.db.types import Money


class RecurringExpense(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "recurring_expenses"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    merchant: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    payment_method: Mapped[str | None] = mapped_column(String(50))
    frequency: Mapped[str] = mapped_column(String(16))  # daily|weekly|monthly|yearly
    interval: Mapped[int] = mapped_column(Integer, default=1)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    # Occurrences up to and including this date exist; the cron job resumes after it.
    generated_through: Mapped[dt.date | None] = mapped_column(Date)
