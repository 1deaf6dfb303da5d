from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import func, select

from expense_wise.db import models as m
from expense_wise.db.engine import create_engine, create_session_factory
from expense_wise.domain.recurring.schedule import (
    Schedule,
    add_months,
    next_occurrence,
    occurrences,
)
from expense_wise.domain.recurring.services import generate_occurrences
from expense_wise.settings import load_settings
from tests.conftest import register, running_app

D = dt.date


def test_monthly_on_the_31st_falls_back_to_the_last_day_of_shorter_months() -> None:
    schedule = Schedule("monthly", 1, D(2024, 1, 31))
    assert occurrences(schedule, None, D(2024, 5, 31), 100) == [
        D(2024, 1, 31),
        D(2024, 2, 29),
        D(2024, 3, 31),
        D(2024, 4, 30),
        D(2024, 5, 31),
    ]
    assert occurrences(schedule, D(2025, 1, 31), D(2025, 3, 1), 100) == [D(2025, 2, 28)]


def test_yearly_on_29_february() -> None:
    schedule = Schedule("yearly", 1, D(2024, 2, 29))
    assert occurrences(schedule, None, D(2028, 12, 31), 100) == [
        D(2024, 2, 29),
        D(2025, 2, 28),
        D(2026, 2, 28),
        D(2027, 2, 28),
        D(2028, 2, 29),
    ]


def test_intervals_end_dates_and_resuming() -> None:
    weekly = Schedule("weekly", 2, D(2024, 1, 1), ends_on=D(2024, 2, 10))
    assert occurrences(weekly, None, D(2030, 1, 1), 100) == [
        D(2024, 1, 1),
        D(2024, 1, 15),
        D(2024, 1, 29),
    ]
    daily = Schedule("daily", 3, D(2024, 1, 1))
    assert occurrences(daily, D(2024, 1, 7), D(2024, 1, 16), 100) == [
        D(2024, 1, 10),
        D(2024, 1, 13),
        D(2024, 1, 16),
    ]
    quarterly = Schedule("monthly", 3, D(2023, 11, 30))
    assert occurrences(quarterly, D(2024, 3, 1), D(2024, 12, 31), 100) == [
        D(2024, 5, 30),
        D(2024, 8, 30),
        D(2024, 11, 30),
    ]
    assert occurrences(daily, None, D(2030, 1, 1), 5)[-1] == D(2024, 1, 13)  # capped
    assert occurrences(daily, None, D(2023, 12, 31), 100) == []  # not started yet
    assert next_occurrence(weekly, D(2024, 1, 29)) is None  # ended
    assert next_occurrence(quarterly, None) == D(2023, 11, 30)
    assert add_months(D(2024, 12, 15), 1) == D(2025, 1, 15)


async def test_concurrent_generation_creates_each_occurrence_once(
    base_env: dict[str, str],
) -> None:
    async with running_app(base_env) as app_client:
        account = await register(app_client)
    settings = load_settings(base_env)
    engine = create_engine(settings.database)
    sessions = create_session_factory(engine)
    today = dt.datetime.now(dt.UTC).date()
    try:
        template_id = uuid.uuid4()
        async with sessions() as session:
            session.add(
                m.RecurringExpense(
                    id=template_id,
                    user_id=uuid.UUID(account.id),
                    amount=3,
                    currency="EUR",
                    merchant="Coffee",
                    frequency="daily",
                    interval=1,
                    starts_on=today - dt.timedelta(days=20),
                )
            )
            await session.commit()

        async def generate() -> int:
            async with sessions() as session:
                created = await generate_occurrences(session, template_id, today)
                await session.commit()
                return created

        results = await asyncio.gather(*(generate() for _ in range(4)))
        assert sorted(results) == [0, 0, 0, 21]
        async with sessions() as session:
            # Bookkeeping lost (e.g. restored from an old backup): the constraint still holds.
            template = await session.get(m.RecurringExpense, template_id)
            assert template is not None and template.generated_through == today
            template.generated_through = None
            await session.commit()
        assert await generate() == 0
        async with sessions() as session:
            count = await session.scalar(
                select(func.count()).where(m.Expense.recurring_id == template_id)
            )
        assert count == 21
    finally:
        await engine.dispose()
