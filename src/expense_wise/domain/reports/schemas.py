from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

GroupBy = Literal["category", "month", "tag"]


class Group(msgspec.Struct):
    key: str | None
    label: str
    currency: str
    total: str
    count: int


class CurrencyTotal(msgspec.Struct):
    currency: str
    total: str
    count: int


class Summary(msgspec.Struct):
    from_: dt.date | None = msgspec.field(name="from")
    to: dt.date | None
    group_by: GroupBy
    groups: list[Group]
    totals: list[CurrencyTotal]
