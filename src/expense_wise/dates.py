"""The range of dates the API accepts, on every date input."""

from __future__ import annotations

import datetime as dt

from expense_wise.errors import Invalid

# Wide enough for any real expense and any schedule, and far enough from Python's 0001 and
# 9999 that date arithmetic (duplicate windows, month steps) never overflows.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"must be between {EARLIEST_DATE} and {LATEST_DATE}"


def in_range(day: dt.date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def checked_date(value: dt.date, field: str) -> dt.date:
    if not in_range(value):
        raise Invalid(field, DATE_RANGE_MESSAGE)
    return value


def shifted(day: dt.date, days: int) -> dt.date:
    """`day` moved by `days`, stopping at the ends of Python's calendar instead of overflowing
    (rows stored before the range was enforced may sit there)."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min
