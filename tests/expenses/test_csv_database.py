"""CSV export and import against the database directly (no app, no HTTP), on SQLite and on
PostgreSQL, whose export SQL and COPY import differ: fast enough for mutation testing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import psycopg
import pytest
from litestar.exceptions import HTTPException
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from expense_wise.db import models as m
from expense_wise.domain.expenses import csv_export, csv_io
from expense_wise.domain.expenses.schemas import ExpenseFilters, ImportResult
from expense_wise.domain.expenses.services import merchant_key
from tests.conftest import create_database, database_url, drop_database, truncate_all

ALICE = uuid.UUID(int=1)
BOB = uuid.UUID(int=2)
FOOD = uuid.UUID(int=10)
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL database with the models' tables (no migrations: faster)."""
    name = create_database("ew_csv")
    url = database_url(name)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    yield url
    drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'csv.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(m.Base.metadata.create_all)
    if request.param == "postgresql":
        truncate_all(url)
    async with AsyncSession(engine) as session:
        for user_id, currency in ((ALICE, "JPY"), (BOB, "EUR")):
            session.add(
                m.User(
                    id=user_id,
                    email=f"{user_id.int}@example.com",
                    password_hash="x",
                    default_currency=currency,
                )
            )
        await session.commit()
        session.add(m.Category(id=FOOD, user_id=ALICE, name="Food", name_key="food"))
        await session.commit()
    yield engine
    await engine.dispose()


def expense(row_id: int, day: int, amount: str, currency: str, merchant: str, **fields):
    return m.Expense(
        id=uuid.UUID(int=row_id),
        user_id=fields.pop("user_id", ALICE),
        amount=Decimal(amount),
        currency=currency,
        occurred_on=dt.date(2024, 1, day),
        merchant=merchant,
        merchant_key=merchant_key(merchant),
        tags=fields.pop("tags", []),
        **fields,
    )


async def seed(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        session.add_all(
            [  # inserted in this order, not in export order
                expense(
                    102,
                    2,
                    "12.5",
                    "EUR",
                    "=cmd",
                    category_id=FOOD,
                    tags=["-a", "b"],
                    note='say "hi", ok',
                    payment_method="card",
                ),
                expense(101, 3, "1.234", "KWD", "'quoted", tags=["@x"], note="\ttab"),
                expense(103, 2, "1200", "JPY", "Sushi"),
                expense(104, 1, "0.1", "USD", "Tea; and cake", tags=["it's"]),
                expense(199, 1, "5", "EUR", "Bob's", user_id=BOB),
            ]
        )
        await session.commit()


EXPECTED = (
    "date,amount,currency,merchant,category,tags,note,payment_method,id\n"
    f'2024-01-01,0.10,USD,"Tea; and cake","","it\'s","","",{uuid.UUID(int=104)}\n'
    f'2024-01-02,12.50,EUR,"\'=cmd","Food","\'-a;b","say ""hi"", ok","card",{uuid.UUID(int=102)}\n'
    f'2024-01-02,1200,JPY,"Sushi","","","","",{uuid.UUID(int=103)}\n'
    f'2024-01-03,1.234,KWD,"\'\'quoted","","\'@x","\'\ttab","",{uuid.UUID(int=101)}\n'
)


async def exported(engine: AsyncEngine, filters: ExpenseFilters | None = None) -> str:
    stream = await csv_export.export_csv(engine, ALICE, filters or ExpenseFilters())
    chunks = [chunk async for chunk in stream]
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    return b"".join(chunks).decode()


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 4, 10_000])
async def test_export_is_exact_oldest_first_in_any_chunking(engine, monkeypatch, chunk_rows):
    await seed(engine)
    monkeypatch.setattr(csv_export, "EXPORT_CHUNK_ROWS", chunk_rows)
    assert await exported(engine) == EXPECTED


async def test_export_filters_and_an_empty_export(engine):
    await seed(engine)
    header, *lines = EXPECTED.splitlines(keepends=True)
    assert await exported(engine, ExpenseFilters(currency="JPY")) == header + lines[2]
    assert await exported(engine, ExpenseFilters(date_from=dt.date(2024, 1, 3))) == (
        header + lines[3]
    )
    assert await exported(engine) == EXPECTED
    assert await exported(engine, ExpenseFilters(currency="GBP")) == header


async def test_export_stops_reading_when_the_client_goes_away(engine, monkeypatch):
    await seed(engine)
    monkeypatch.setattr(csv_export, "EXPORT_CHUNK_ROWS", 1)
    stream = await csv_export.export_csv(engine, ALICE, ExpenseFilters())
    assert (await anext(stream)).startswith(b"date,amount")
    assert (await anext(stream)).startswith(b"2024-01-01,0.10,USD")
    await stream.aclose()  # the prefetched chunk is awaited, its connection returned
    assert engine.pool.checkedout() == 0


async def stored(engine: AsyncEngine, user_id: uuid.UUID = ALICE) -> list[tuple]:
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(
                m.Expense.occurred_on,
                m.Expense.amount,
                m.Expense.currency,
                m.Expense.merchant,
                m.Expense.merchant_key,
                m.Category.name,
                m.Expense.tags,
                m.Expense.note,
                m.Expense.payment_method,
            )
            .outerjoin(m.Category, m.Category.id == m.Expense.category_id)
            .where(m.Expense.user_id == user_id)
            .order_by(m.Expense.occurred_on, m.Expense.merchant)
        )
        return [tuple(row) for row in rows]


async def import_text(engine: AsyncEngine, text: str, quota: int = 100, user_id=ALICE):
    async with AsyncSession(engine) as session:
        result, errors = await csv_io.import_csv(session, user_id, text.encode(), 1000, quota)
        await session.commit()
    return result, errors


IMPORT = (
    "date,amount,currency,merchant,category,tags,note,payment_method\n"
    "2024-02-01,1500,,Ramen,food,hot;noodles,,cash\n"
    "2024-02-02,3.5,EUR,'=Cafe,  New   Cat ,,'=note,\n"
    "2024-02-03,7,USD,Deli,new cat,,,\n"
    "2024-02-03,7,USD,Deli,new cat,,,\n"
)


async def test_import_creates_expenses_and_missing_categories(engine):
    assert await import_text(engine, IMPORT) == (ImportResult(imported=4, skipped_duplicates=0), [])
    assert await stored(engine) == [
        (
            dt.date(2024, 2, 1),
            Decimal("1500"),
            "JPY",
            "Ramen",
            "ramen",
            "Food",
            ["hot", "noodles"],
            None,
            "cash",
        ),
        (dt.date(2024, 2, 2), Decimal("3.5"), "EUR", "=Cafe", "cafe", "New Cat", [], "=note", None),
        (dt.date(2024, 2, 3), Decimal("7"), "USD", "Deli", "deli", "New Cat", [], None, None),
        (dt.date(2024, 2, 3), Decimal("7"), "USD", "Deli", "deli", "New Cat", [], None, None),
    ]
    async with AsyncSession(engine) as session:
        names = (await session.scalars(select(m.Category.name).order_by(m.Category.name))).all()
        keys = (await session.scalars(select(m.Expense.import_key))).all()
    assert names == ["Food", "New Cat"]  # named as first written in the file
    assert len(set(keys)) == 4 and all(len(key) == 64 for key in keys)
    # Importing the same file again adds nothing; a longer file adds only what is new.
    assert await import_text(engine, IMPORT) == (ImportResult(imported=0, skipped_duplicates=4), [])
    more = IMPORT + "2024-02-03,7,USD,Deli,new cat,,,\n"
    assert await import_text(engine, more) == (ImportResult(imported=1, skipped_duplicates=4), [])
    assert len(await stored(engine)) == 5
    assert await stored(engine, BOB) == []


async def test_an_export_imports_back_as_duplicates_only_for_its_owner(engine):
    await seed(engine)
    text = await exported(engine)
    assert await import_text(engine, text) == (ImportResult(imported=0, skipped_duplicates=4), [])
    assert await import_text(engine, text, user_id=BOB) == (
        ImportResult(imported=4, skipped_duplicates=0),
        [],
    )
    bobs = await stored(engine, BOB)
    assert [(row[1], row[2], row[3], row[5], row[6], row[7]) for row in bobs] == [
        (Decimal("5"), "EUR", "Bob's", None, [], None),
        (Decimal("0.1"), "USD", "Tea; and cake", None, ["it's"], None),
        (Decimal("12.5"), "EUR", "=cmd", "Food", ["-a", "b"], 'say "hi", ok'),
        (Decimal("1200"), "JPY", "Sushi", None, [], None),
        (Decimal("1.234"), "KWD", "'quoted", None, ["@x"], "\ttab"),
    ]


async def test_import_in_small_batches(engine, monkeypatch):
    await seed(engine)
    monkeypatch.setattr(csv_io, "LOOKUP_BATCH", 2)
    monkeypatch.setattr(csv_io, "INSERT_CHUNK_ROWS", 2)
    text = await exported(engine)
    rows = "".join(f"2024-03-{day:02d},{day},EUR,Shop {day},,,,,\n" for day in range(1, 6))
    assert await import_text(engine, text + rows) == (
        ImportResult(imported=5, skipped_duplicates=4),
        [],
    )
    assert [row[3] for row in await stored(engine)][-5:] == [f"Shop {day}" for day in range(1, 6)]


async def test_import_errors_and_the_category_quota_write_nothing(engine):
    result, errors = await import_text(engine, "date,amount,merchant\n2024-01-01,x,A\n")
    assert result is None and [(e.row, e.field) for e in errors] == [(2, "amount")]
    with pytest.raises(HTTPException) as raised:
        await import_text(engine, IMPORT, quota=1)  # Food exists; New Cat would be the 2nd
    assert raised.value.status_code == 409
    assert await stored(engine) == []
    assert await import_text(engine, IMPORT, quota=2) == (
        ImportResult(imported=4, skipped_duplicates=0),
        [],
    )


async def test_import_for_a_deleted_account_is_401(engine):
    with pytest.raises(HTTPException) as raised:
        await import_text(engine, IMPORT, user_id=uuid.UUID(int=99))
    assert raised.value.status_code == 401
