"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

# Amounts are stored as integers of 1/10,000 of the currency unit: exact on both databases
# (SQLite has no exact decimal type), and enough for every ISO 4217 currency (at most 4 places).
MONEY_SCALE = 4
_MONEY_FACTOR = Decimal(10) ** MONEY_SCALE


class Money(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value) * _MONEY_FACTOR
        if scaled != scaled.to_integral_value():
            raise ValueError(f"amount {value} has more than {MONEY_SCALE} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)) / _MONEY_FACTOR

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes everywhere (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        converted: dt.datetime = value.astimezone(dt.UTC)
        return converted

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None or value.tzinfo is dt.UTC:  # PostgreSQL sessions run in UTC
            return value  # type: ignore[no-any-return]
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]

    @property
    def python_type(self) -> type[dt.datetime]:
        return dt.datetime


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
