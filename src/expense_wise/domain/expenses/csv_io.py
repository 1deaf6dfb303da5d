"""CSV export (streamed in chunks the database formats) and all-or-nothing CSV import."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Table,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.dates import DATE_RANGE_MESSAGE, in_range
from expense_wise.db import models as m
from expense_wise.db.types import MONEY_SCALE, utcnow
from expense_wise.domain.accounts.services import default_currency
from expense_wise.domain.categories.services import name_key
from expense_wise.domain.expenses import schemas
from expense_wise.domain.expenses.rules import WRITTEN_COLUMNS, clean_tags, merchant_key
from expense_wise.money import AmountError, is_currency, parse_amount
from expense_wise.quotas import check_quota

CSV_HEADER = [
    "date",
    "amount",
    "currency",
    "merchant",
    "category",
    "tags",
    "note",
    "payment_method",
    "id",
]
REQUIRED_COLUMNS = {"date", "amount", "merchant"}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TAG_SEPARATOR = ";"
# Import looks up existing keys, and writes rows, this many at a time.
LOOKUP_BATCH = 1000
INSERT_CHUNK_ROWS = 1000

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
# Export puts an apostrophe in front of such a text cell, and in front of one that already
# starts with an apostrophe, so that import can take exactly one away and get the value back.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")

_EXPENSES: Table = m.Expense.__table__  # type: ignore[assignment]  # declared as FromClause
_CATEGORIES: Table = m.Category.__table__  # type: ignore[assignment]


# --- Import ----------------------------------------------------------------------------------


@dataclass
class ParsedRow:
    occurred_on: dt.date
    amount: Decimal
    currency: str
    merchant: str
    category: str | None
    tags: list[str]
    note: str | None
    payment_method: str | None
    import_key: str


def _unquote(value: str) -> str:
    """The value behind an exported text cell: one apostrophe before a formula start goes."""
    return value[1:] if value[:1] == "'" and value[1:2] in FORMULA_STARTS else value


def parse_csv(
    data: bytes, fallback_currency: str, max_rows: int
) -> tuple[list[ParsedRow], list[schemas.ImportRowError]]:
    """Parse and validate every row; rows are numbered as in a spreadsheet (header = 1).

    Pure CPU: the caller runs it in a worker thread, so a large file does not hold up the event
    loop."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [schemas.ImportRowError(row=0, field="file", message="must be UTF-8 text")]
    # strict: an unterminated quote or text after a closing quote is an error, not a guess.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    parsed: list[ParsedRow] = []
    errors: list[schemas.ImportRowError] = []
    number = 0  # of the last record read
    try:
        header = [name.strip() for name in next(reader, [])]
        number = 1
        problem = _header_problem(header)
        if problem:
            return [], [schemas.ImportRowError(row=1, field="header", message=problem)]
        seen_content: Counter[str] = Counter()
        for number, values in enumerate(reader, start=2):
            if not values:
                continue  # a blank line
            if number - 1 > max_rows:
                message = f"more than {max_rows} rows; split the file"
                errors.append(schemas.ImportRowError(row=number, field="file", message=message))
                break
            if len(values) > len(header):
                errors.append(
                    schemas.ImportRowError(
                        row=number, field="row", message="more values than columns"
                    )
                )
                continue
            row = dict(zip(header, (value.strip() for value in values), strict=False))
            result = _parse_row(number, row, fallback_currency, seen_content)
            if isinstance(result, ParsedRow):
                parsed.append(result)
            else:
                errors.extend(result)
    except csv.Error as error:
        message = f"malformed CSV: {error}"
        errors.append(schemas.ImportRowError(row=number + 1, field="file", message=message))
    return parsed, errors


def _header_problem(header: list[str]) -> str | None:
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
    missing = REQUIRED_COLUMNS - set(header)
    unknown = set(header) - set(CSV_HEADER)
    problems = []
    if duplicated:
        problems.append("duplicate columns: " + ", ".join(duplicated))
    if missing:
        problems.append("missing columns: " + ", ".join(sorted(missing)))
    if unknown:
        problems.append("unknown columns: " + ", ".join(sorted(unknown)))
    return "; ".join(problems) or None


def _parse_row(
    number: int, row: dict[str, str], fallback_currency: str, seen_content: Counter[str]
) -> ParsedRow | list[schemas.ImportRowError]:
    errors: list[schemas.ImportRowError] = []

    def fail(field: str, message: str) -> None:
        errors.append(schemas.ImportRowError(row=number, field=field, message=message))

    for field, value in row.items():
        if "\x00" in value:
            fail(field, "must not contain NUL characters")
    if errors:
        return errors
    occurred_on = None
    date_text = row.get("date", "")
    try:
        # fromisoformat alone also reads 20240101 and 2024-W01-1.
        if _DATE.fullmatch(date_text) is None:
            raise ValueError(date_text)
        occurred_on = dt.date.fromisoformat(date_text)
    except ValueError:
        fail("date", "must be a date as YYYY-MM-DD")
    else:
        if not in_range(occurred_on):
            fail("date", DATE_RANGE_MESSAGE)
    currency = row.get("currency") or fallback_currency
    if not is_currency(currency):
        fail("currency", f"{currency!r} is not an ISO 4217 currency code")
    amount = None
    try:
        amount = parse_amount(row.get("amount", ""), currency if is_currency(currency) else "EUR")
    except AmountError as error:
        fail("amount", str(error))
    merchant = _unquote(row.get("merchant", ""))
    if not merchant:
        fail("merchant", "is required")
    elif len(merchant) > 200:
        fail("merchant", "must be at most 200 characters")
    tags = clean_tags([_unquote(tag) for tag in row.get("tags", "").split(TAG_SEPARATOR)])
    if len(tags) > 20 or any(len(tag) > 50 or "," in tag for tag in tags):
        fail("tags", "at most 20 tags of at most 50 characters, without commas")
    note = _unquote(row.get("note", "")) or None
    if note and len(note) > 2000:
        fail("note", "must be at most 2000 characters")
    payment_method = _unquote(row.get("payment_method", "")) or None
    if payment_method and len(payment_method) > 50:
        fail("payment_method", "must be at most 50 characters")
    category = _unquote(row.get("category", "")) or None
    if category and len(category) > 100:
        fail("category", "must be at most 100 characters")
    row_id = row.get("id", "")
    if row_id:
        try:
            row_id = str(uuid.UUID(row_id))
        except ValueError:
            fail("id", "must be a UUID")
    if errors:
        return errors
    assert occurred_on is not None and amount is not None
    if row_id:
        import_key = row_id
    else:
        # Without an id, a row is identified by its content and its occurrence number, so two
        # identical rows in one file are two expenses, and re-importing adds none.
        content = "\x1f".join(
            [
                occurred_on.isoformat(),
                str(amount),
                currency,
                merchant,
                category or "",
                ";".join(tags),
                note or "",
                payment_method or "",
            ]
        )
        seen_content[content] += 1
        import_key = hashlib.sha256(f"{content}\x1e{seen_content[content]}".encode()).hexdigest()
    return ParsedRow(
        occurred_on,
        amount,
        currency,
        merchant,
        category,
        tags,
        note,
        payment_method,
        import_key,
    )


def _batches(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), LOOKUP_BATCH):
        yield values[start : start + LOOKUP_BATCH]


async def _not_imported_before(
    session: AsyncSession, user_id: uuid.UUID, rows: list[ParsedRow]
) -> list[ParsedRow]:
    """The rows whose key is neither an earlier import's nor the id of one of the user's
    expenses (a re-imported export), each key once."""
    unique = list({row.import_key: row for row in reversed(rows)}.values())[::-1]
    existing: set[str] = set()
    for batch in _batches([row.import_key for row in unique]):
        found = await session.scalars(
            select(m.Expense.import_key).where(
                m.Expense.user_id == user_id, m.Expense.import_key.in_(batch)
            )
        )
        existing.update(key for key in found if key is not None)
        ids = [uuid.UUID(key) for key in batch if len(key) == 36]
        if ids:
            found_ids = await session.scalars(
                select(m.Expense.id).where(m.Expense.user_id == user_id, m.Expense.id.in_(ids))
            )
            existing.update(str(found_id) for found_id in found_ids)
    return [row for row in unique if row.import_key not in existing]


async def _category_ids(
    session: AsyncSession, user_id: uuid.UUID, names: Iterable[str], quota: int
) -> dict[str, uuid.UUID]:
    """The id of each named category by name key; the missing ones are created, all in one
    statement, unless they would take the user past the category quota: then nothing is
    written and the caller's transaction is rolled back, so the whole import is refused."""
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(name_key(name), " ".join(name.split()))
    if not wanted:
        return {}
    rows = await session.execute(
        select(m.Category.name_key, m.Category.id).where(
            m.Category.user_id == user_id, m.Category.name_key.in_(list(wanted))
        )
    )
    ids: dict[str, uuid.UUID] = dict(rows.tuples().all())
    missing: list[dict[str, Any]] = [
        {"id": uuid.uuid4(), "user_id": user_id, "name": name, "name_key": key}
        for key, name in wanted.items()
        if key not in ids
    ]
    if missing:
        await check_quota(session, m.Category, user_id, "categories", quota, len(missing))
        now = utcnow()
        await session.execute(
            insert(_CATEGORIES), [{**row, "created_at": now, "updated_at": now} for row in missing]
        )
        ids.update({row["name_key"]: row["id"] for row in missing})
    return ids


_IMPORTED_COLUMNS = [*WRITTEN_COLUMNS, "import_key", "created_at", "updated_at"]


async def _insert_expenses(
    session: AsyncSession,
    user_id: uuid.UUID,
    rows: list[ParsedRow],
    category_ids: dict[str, uuid.UUID],
) -> None:
    now = utcnow()

    def values(row: ParsedRow) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "amount": row.amount,
            "currency": row.currency,
            "occurred_on": row.occurred_on,
            "merchant": row.merchant,
            "merchant_key": merchant_key(row.merchant),
            "category_id": category_ids[name_key(row.category)] if row.category else None,
            "note": row.note,
            "tags": row.tags,
            "payment_method": row.payment_method,
            "import_key": row.import_key,
            "created_at": now,
            "updated_at": now,
        }

    chunks = [
        rows[start : start + INSERT_CHUNK_ROWS] for start in range(0, len(rows), INSERT_CHUNK_ROWS)
    ]
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        for chunk in chunks:
            await session.execute(insert(_EXPENSES), [values(row) for row in chunk])
        return
    # COPY in the session's transaction: the fastest way into PostgreSQL. Values go as its text
    # input: amounts as their stored integer, tags as the JSON text SQLAlchemy would write.
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    statement = f"COPY expenses ({', '.join(_IMPORTED_COLUMNS)}) FROM STDIN"
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for chunk in chunks:
            for row in chunk:
                copied = values(row)
                copied["amount"] = int(row.amount.scaleb(MONEY_SCALE))
                copied["tags"] = json.dumps(row.tags)
                await copy.write_row([copied[column] for column in _IMPORTED_COLUMNS])
            # psycopg waits only once the socket is full; let other requests in meanwhile.
            await asyncio.sleep(0)


async def import_rows(
    session: AsyncSession, user_id: uuid.UUID, rows: list[ParsedRow], category_quota: int
) -> schemas.ImportResult:
    """Insert the rows not imported before, creating missing categories by name; the caller
    commits once, so the import is all or nothing."""
    new_rows = await _not_imported_before(session, user_id, rows)
    # In file order, so that the first spelling of a new category names it (a set's order
    # changes from run to run).
    names = list(dict.fromkeys(row.category for row in new_rows if row.category))
    category_ids = await _category_ids(session, user_id, names, category_quota)
    await _insert_expenses(session, user_id, new_rows, category_ids)
    return schemas.ImportResult(
        imported=len(new_rows), skipped_duplicates=len(rows) - len(new_rows)
    )


async def import_csv(
    session: AsyncSession, user_id: uuid.UUID, data: bytes, max_rows: int, category_quota: int
) -> tuple[schemas.ImportResult | None, list[schemas.ImportRowError]]:
    fallback_currency = await default_currency(session, user_id)
    rows, errors = await asyncio.to_thread(parse_csv, data, fallback_currency, max_rows)
    if errors:
        return None, errors
    return await import_rows(session, user_id, rows, category_quota), []
