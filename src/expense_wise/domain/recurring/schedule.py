"""Occurrence dates of a recurring expense: pure date arithmetic, no database.

Monthly and yearly schedules keep the day of `starts_on` and fall back to the last day of
shorter months (31 Jan -> 28/29 Feb -> 31 Mar; 29 Feb -> 28 Feb in other years).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

FREQUENCIES = ("daily", "weekly", "monthly", "yearly")


@dataclass(frozen=True)
class Schedule:
    frequency: str
    interval: int
    starts_on: dt.date
    ends_on: dt.date | None = None


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last_day))


def nth_occurrence(schedule: Schedule, n: int) -> dt.date:
    """The date of occurrence number `n` (0 is `starts_on`)."""
    steps = n * schedule.interval
    if schedule.frequency == "daily":
        return schedule.starts_on + dt.timedelta(days=steps)
    if schedule.frequency == "weekly":
        return schedule.starts_on + dt.timedelta(weeks=steps)
    if schedule.frequency == "monthly":
        return add_months(schedule.starts_on, steps)
    if schedule.frequency == "yearly":
        return add_months(schedule.starts_on, 12 * steps)
    raise ValueError(f"unknown frequency {schedule.frequency!r}")


def _index_not_after(schedule: Schedule, day: dt.date) -> int:
    """An occurrence number whose date is not after `day` (a cheap lower bound, so catching
    up never walks the schedule from its start)."""
    if day < schedule.starts_on:
        return 0
    start = schedule.starts_on
    if schedule.frequency in ("daily", "weekly"):
        step_days = schedule.interval * (7 if schedule.frequency == "weekly" else 1)
        return (day - start).days // step_days
    months = (day.year - start.year) * 12 + day.month - start.month
    step_months = schedule.interval * (12 if schedule.frequency == "yearly" else 1)
    return max(0, months // step_months - 1)


def occurrences(
    schedule: Schedule, after: dt.date | None, through: dt.date, limit: int
) -> list[dt.date]:
    """Up to `limit` occurrence dates in (after, through], also within `ends_on`."""
    end = min(through, schedule.ends_on) if schedule.ends_on else through
    n = 0 if after is None else _index_not_after(schedule, after)
    found: list[dt.date] = []
    while len(found) < limit:
        try:
            day = nth_occurrence(schedule, n)
        except (OverflowError, ValueError):  # past year 9999
            break
        if day > end:
            break
        if after is None or day > after:
            found.append(day)
        n += 1
    return found


def next_occurrence(schedule: Schedule, after: dt.date | None) -> dt.date | None:
    found = occurrences(schedule, after, dt.date.max, 1)
    return found[0] if found else None
