from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from expense_wise.db.models.base import Base, Timestamps, UUIDPrimaryKey
from expense_wise.db.types import Money


class Budget(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "budgets"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), index=True
    )  # None: all spending
    period: Mapped[str] = mapped_column(String(16), default="monthly")
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    alert_thresholds: Mapped[list[int]] = mapped_column(JSON, default=lambda: [80, 100])
