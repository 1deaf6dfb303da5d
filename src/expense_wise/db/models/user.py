from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from expense_wise.db.models.base import Base, Timestamps, UUIDPrimaryKey
from expense_wise.db.types import UTCDateTime


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(200))
    default_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    monthly_summary: Mapped[bool] = mapped_column(Boolean, default=True)
    # Tokens issued before this moment are void (set by a password reset and logout-all).
    tokens_valid_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
