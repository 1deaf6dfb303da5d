"""Occurrence dates as pure functions: examples, and properties checked with hypothesis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expense_wise.domain.recurring import schedule as schedule_module
from expense_wise.domain.recurring.schedule import (
    FREQUENCIES,
    Schedule,
    _index_not_after,
    add_months,
    next_occurrence,
    nth_occurrence,
    occurrences,
)

D = dt.date
MANY = 10_000


@contextmanager
def counted_steps() -> Iterator[list[int]]:
    """Count the occurrence numbers `occurrences` looks at."""
    seen: list[int] = []
    original = schedule_module.nth_occurrence

    def counting(schedule: Schedule, n: int) -> dt.date:
        seen.append(n)
        return original(schedule, n)

    schedule_module.nth_occurrence = counting  # type: ignore[assignment]
    try:
        yield seen
    finally:
        schedule_module.nth_occurrence = original  # type: ignore[assignment]


schedules = st.builds(
    Schedule,
    frequency=st.sampled_from(FREQUENCIES),
    interval=st.integers(min_value=1, max_value=6),
    starts_on=st.dates(min_value=D(2016, 1, 1), max_value=D(2028, 12, 31)),
    ends_on=st.none() | st.dates(min_value=D(2016, 1, 1), max_value=D(2030, 12, 31)),
)
days = st.dates(min_value=D(2014, 1, 1), max_value=D(2030, 12, 31))
# Timing varies on a loaded machine (and under mutation testing): no per-example deadline.
property_test = settings(deadline=None, max_examples=150)


def all_through(schedule: Schedule, through: dt.date) -> list[dt.date]:
    """Every occurrence up to `through`, walked from the start by definition."""
    found = []
    n = 0
    while (day := nth_occurrence(schedule, n)) <= through:
        if schedule.ends_on is None or day <= schedule.ends_on:
            found.append(day)
        n += 1
    return found


# --- Examples -------------------------------------------------------------------------------


def test_nth_occurrence_of_each_frequency():
    start = D(2024, 1, 31)
    assert nth_occurrence(Schedule("daily", 2, start), 3) == D(2024, 2, 6)
    assert nth_occurrence(Schedule("weekly", 2, start), 3) == D(2024, 3, 13)
    assert nth_occurrence(Schedule("monthly", 2, start), 3) == D(2024, 7, 31)
    assert nth_occurrence(Schedule("monthly", 1, start), 1) == D(2024, 2, 29)
    assert nth_occurrence(Schedule("yearly", 2, start), 3) == D(2030, 1, 31)
    assert nth_occurrence(Schedule("yearly", 1, D(2024, 2, 29)), 1) == D(2025, 2, 28)
    assert nth_occurrence(Schedule("daily", 1, start), 0) == start


def test_unknown_frequency_is_refused():
    with pytest.raises(ValueError, match="unknown frequency 'hourly'"):
        nth_occurrence(Schedule("hourly", 1, D(2024, 1, 1)), 1)


def test_add_months_keeps_the_day_or_takes_the_last_one():
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2023, 1, 31), 1) == D(2023, 2, 28)
    assert add_months(D(2024, 1, 31), 3) == D(2024, 4, 30)
    assert add_months(D(2024, 12, 15), 1) == D(2025, 1, 15)
    assert add_months(D(2024, 11, 30), 1) == D(2024, 12, 30)
    assert add_months(D(2024, 1, 15), 0) == D(2024, 1, 15)
    assert add_months(D(2024, 3, 31), -1) == D(2024, 2, 29)
    assert add_months(D(2024, 1, 10), 25) == D(2026, 2, 10)


def test_resuming_mid_month_after_the_31st_keeps_the_31st():
    schedule = Schedule("monthly", 1, D(2024, 1, 31))
    assert occurrences(schedule, D(2024, 3, 15), D(2024, 6, 30), 100) == [
        D(2024, 3, 31),
        D(2024, 4, 30),
        D(2024, 5, 31),
        D(2024, 6, 30),
    ]
    assert next_occurrence(schedule, D(2024, 3, 15)) == D(2024, 3, 31)
    assert next_occurrence(schedule, D(2024, 3, 31)) == D(2024, 4, 30)


def test_yearly_resume_and_resume_more_than_a_year_later():
    yearly = Schedule("yearly", 1, D(2020, 2, 29))
    assert occurrences(yearly, D(2023, 2, 27), D(2025, 3, 1), 100) == [
        D(2023, 2, 28),
        D(2024, 2, 29),
        D(2025, 2, 28),
    ]
    assert occurrences(yearly, D(2023, 2, 28), D(2024, 2, 28), 100) == []
    every_two = Schedule("yearly", 2, D(2021, 6, 30))
    assert occurrences(every_two, D(2023, 7, 1), D(2029, 12, 31), 100) == [
        D(2025, 6, 30),
        D(2027, 6, 30),
        D(2029, 6, 30),
    ]
    monthly = Schedule("monthly", 1, D(2022, 1, 31))
    # Resumed two and a half years after the last generated date.
    assert occurrences(monthly, D(2022, 1, 31), D(2024, 7, 31), MANY)[:3] == [
        D(2022, 2, 28),
        D(2022, 3, 31),
        D(2022, 4, 30),
    ]
    assert len(occurrences(monthly, D(2022, 1, 31), D(2024, 7, 31), MANY)) == 30
    daily = Schedule("daily", 1, D(2020, 1, 1))
    assert occurrences(daily, D(2023, 12, 30), D(2024, 1, 2), 100) == [
        D(2023, 12, 31),
        D(2024, 1, 1),
        D(2024, 1, 2),
    ]


def test_resume_point_before_the_start_yields_everything_from_the_start():
    schedule = Schedule("weekly", 1, D(2024, 5, 1))
    assert occurrences(schedule, D(2023, 1, 1), D(2024, 5, 15), 100) == [
        D(2024, 5, 1),
        D(2024, 5, 8),
        D(2024, 5, 15),
    ]
    assert occurrences(schedule, D(2024, 4, 30), D(2024, 5, 1), 100) == [D(2024, 5, 1)]
    assert _index_not_after(schedule, D(2020, 1, 1)) == 0
    monthly = Schedule("monthly", 1, D(2024, 5, 31))
    assert _index_not_after(monthly, D(2024, 5, 1)) == 0
    assert next_occurrence(monthly, D(2024, 5, 30)) == D(2024, 5, 31)


def test_end_date_limit_and_no_overflow_past_year_9999():
    schedule = Schedule("daily", 1, D(2024, 1, 1), ends_on=D(2024, 1, 3))
    assert occurrences(schedule, None, D(2024, 12, 31), 100) == [
        D(2024, 1, 1),
        D(2024, 1, 2),
        D(2024, 1, 3),
    ]
    assert occurrences(schedule, None, D(2024, 1, 2), 100) == [D(2024, 1, 1), D(2024, 1, 2)]
    assert occurrences(schedule, None, D(2024, 12, 31), 2) == [D(2024, 1, 1), D(2024, 1, 2)]
    assert occurrences(schedule, None, D(2024, 12, 31), 0) == []
    assert next_occurrence(schedule, D(2024, 1, 3)) is None
    late = Schedule("yearly", 1, D(9998, 3, 1))
    assert occurrences(late, None, D.max, 100) == [D(9998, 3, 1), D(9999, 3, 1)]
    assert next_occurrence(late, D(9999, 3, 1)) is None
    late_daily = Schedule("daily", 1, D(9999, 12, 30))
    assert occurrences(late_daily, None, D.max, 100) == [D(9999, 12, 30), D(9999, 12, 31)]


def test_catching_up_never_walks_from_the_start():
    daily = Schedule("daily", 1, D(2000, 1, 1))
    with counted_steps() as seen:
        assert occurrences(daily, D(2024, 6, 1), D(2024, 6, 3), 100) == [
            D(2024, 6, 2),
            D(2024, 6, 3),
        ]
    assert len(seen) == 4  # the resume point, two occurrences, the one past the end
    monthly = Schedule("monthly", 1, D(2000, 1, 31))
    with counted_steps() as seen:
        assert occurrences(monthly, D(2024, 6, 15), D(2024, 7, 31), 100) == [
            D(2024, 6, 30),
            D(2024, 7, 31),
        ]
    assert len(seen) <= 4
    yearly = Schedule("yearly", 1, D(1990, 3, 1))
    with counted_steps() as seen:
        assert next_occurrence(yearly, D(2024, 3, 2)) == D(2025, 3, 1)
    assert len(seen) <= 3


# --- Properties -----------------------------------------------------------------------------


@property_test
@given(schedule=schedules, through=days)
def test_occurrences_are_a_pure_function_of_template_and_today(schedule, through):
    first = occurrences(schedule, None, through, MANY)
    assert first == occurrences(schedule, None, through, MANY)
    assert first == all_through(schedule, through)
    assert first == sorted(set(first))
    assert all(schedule.starts_on <= day <= through for day in first)


@property_test
@given(schedule=schedules, after=days, through=days)
def test_resuming_from_any_point_yields_the_same_set(schedule, after, through):
    expected = [day for day in all_through(schedule, through) if day > after]
    assert occurrences(schedule, after, through, MANY) == expected
    found = occurrences(schedule, after, D(2099, 12, 31), 1)
    assert next_occurrence(schedule, after) == (found[0] if found else None)


@property_test
@given(schedule=schedules, after=days, through=days, limit=st.integers(0, 5))
def test_a_limit_takes_the_earliest(schedule, after, through, limit):
    assert (
        occurrences(schedule, after, through, limit)
        == occurrences(schedule, after, through, MANY)[:limit]
    )


@property_test
@given(schedule=schedules, day=days)
def test_the_resume_index_is_a_close_lower_bound(schedule, day):
    """Catching up starts at most two steps before the first new occurrence."""
    index = _index_not_after(schedule, day)
    assert index >= 0
    if day >= schedule.starts_on:
        assert nth_occurrence(schedule, index) <= day
        assert nth_occurrence(schedule, index + 2) > day
    else:
        assert index == 0


@property_test
@given(schedule=schedules, after=days)
def test_generation_in_steps_equals_generation_at_once(schedule, after):
    """Running the generator every day yields what one late run would."""
    through = after + dt.timedelta(days=40)
    stepwise: list[dt.date] = []
    last = after
    while last < through:
        today = last + dt.timedelta(days=7)
        stepwise += occurrences(schedule, last, today, MANY)
        last = today
    assert stepwise == occurrences(schedule, after, last, MANY)
