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
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from expense_wise.dates import DATE_RANGE_MESSAGE, in_range
from expense_wise.db import models as m
from expense_wise.db.types import MONEY_SCALE, utcnow
from expense_wise.domain.accounts.services import default_currency
from expense_wise.domain.categories.services import name_key
from expense_wise.domain.expenses import schemas
from expense_wise.domain.expenses.filters import filter_conditions
from expense_wise.domain.expenses.rules import clean_tags, merchant_key
from expense_wise.money import ISO_4217, AmountError, is_currency, minor_units, parse_amount
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
# Rows per export chunk: one short query each (about 1.2 MB of CSV), and no connection or
# transaction held while the client reads it, however slowly.
EXPORT_CHUNK_ROWS = 10_000
# Import looks up existing keys, and writes rows, this many at a time.
LOOKUP_BATCH = 1000
INSERT_CHUNK_ROWS = 1000

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
# Export puts an apostrophe in front of such a text cell, and in front of one that already
# starts with an apostrophe, so that import can take exactly one away and get the value back.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")

_EXPENSES: Table = m.Expense.__table__  # type: ignore[assignment]  # declared as FromClause
_CATEGORIES: Table = m.Category.__table__  # type: ignore[assignment]


# --- Export ----------------------------------------------------------------------------------


def _neutralised(text: ColumnElement[Any]) -> ColumnElement[str]:
    return case(
        (func.substr(text, 1, 1).in_(FORMULA_STARTS), literal("'") + text),
        else_=text,
    )


def _quoted(text: ColumnElement[Any]) -> ColumnElement[str]:
    # Every text cell is quoted (RFC 4180), so a separator inside one (',' or a ';' that some
    # locales split on) never starts a new cell.
    return literal('"') + func.replace(text, '"', '""') + literal('"')


def _text_cell(value: ColumnElement[Any]) -> ColumnElement[str]:
    return _quoted(_neutralised(func.coalesce(value, "")))


def _amount_cell() -> ColumnElement[str]:
    """The stored integer of 1/10,000 as a decimal with the currency's minor units, exactly as
    money.format_amount writes it."""
    units = type_coerce(m.Expense.amount, BigInteger)
    places = case(
        *(
            (m.Expense.currency.in_(sorted(c for c in ISO_4217 if minor_units(c) == n)), n)
            for n in (0, 3)
        ),
        else_=2,
    )
    whole = cast(units // 10**MONEY_SCALE, Text)
    # The fraction padded to MONEY_SCALE digits by adding 10**MONEY_SCALE and dropping the "1".
    fraction = func.substr(cast(units % 10**MONEY_SCALE + 10**MONEY_SCALE, Text), 2, places)
    return case((places == 0, whole), else_=whole + "." + fraction)


def _tags_cell(dialect: str) -> ColumnElement[str]:
    """The tags joined by ';', each neutralised (tags hold no ';' or ',')."""
    if dialect == "postgresql":
        elements = (
            func.json_array_elements_text(m.Expense.tags)
            .table_valued("value", with_ordinality="position")
            .render_derived(name="tag")
        )
        joined = select(
            func.string_agg(
                _neutralised(elements.c.value),
                aggregate_order_by(literal(TAG_SEPARATOR), elements.c.position),
            )
        ).scalar_subquery()
    else:
        # SQLite's group_concat takes its input in the order of this subquery.
        elements = func.json_each(m.Expense.tags).table_valued("value", "key")
        ordered = select(_neutralised(elements.c.value).label("tag")).order_by(elements.c.key)
        in_order = ordered.subquery()
        joined = select(func.group_concat(in_order.c.tag, TAG_SEPARATOR)).scalar_subquery()
    # A third of expenses have no tags: no subquery for those (the JSON text of [] is "[]").
    untagged = cast(m.Expense.tags, Text) == "[]"
    return _quoted(case((untagged, ""), else_=func.coalesce(joined, "")))


def _line_before_id(dialect: str) -> ColumnElement[str]:
    """The CSV line of an expense up to the comma before its id, formatted by the database."""
    date = (
        func.to_char(m.Expense.occurred_on, "YYYY-MM-DD")
        if dialect == "postgresql"
        else cast(m.Expense.occurred_on, Text)
    )
    cells: list[ColumnElement[Any]] = [
        date,
        _amount_cell(),
        _EXPENSES.c.currency,
        _text_cell(_EXPENSES.c.merchant),
        _text_cell(_CATEGORIES.c.name),
        _tags_cell(dialect),
        _text_cell(_EXPENSES.c.note),
        _text_cell(_EXPENSES.c.payment_method),
    ]
    line = cells[0]
    for cell in cells[1:]:
        line = line + "," + cell
    return line + ","


async def export_csv(
    engine: AsyncEngine, user_id: uuid.UUID, filters: schemas.ExpenseFilters
) -> AsyncIterator[bytes]:
    """CSV rows oldest first. Filters are checked and the first chunk is read here, before
    the response starts, so bad input is a 422 and a database outage a retryable 503, not a
    stream that breaks after its header."""
    conditions = filter_conditions(engine.dialect.name, user_id, filters)
    first = await _read_chunk(engine, _chunk_statement(engine.dialect.name, conditions), {})
    return _stream_chunks(engine, conditions, first)


_AFTER = tuple_(m.Expense.occurred_on, m.Expense.id) > tuple_(
    bindparam("after_occurred_on", type_=_EXPENSES.c.occurred_on.type),
    bindparam("after_id", type_=_EXPENSES.c.id.type),
)


def _chunk_statement(dialect: str, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    """The first chunk in export order, or with `_AFTER` among the conditions the one after a
    position. On PostgreSQL one row: (the chunk's lines, their number, the last date); on
    SQLite a row per expense: (line before the id, occurred_on, id)."""
    rows = (
        select(_line_before_id(dialect).label("line"), m.Expense.occurred_on, m.Expense.id)
        .select_from(_EXPENSES.outerjoin(_CATEGORIES, m.Category.id == m.Expense.category_id))
        .where(and_(*conditions))
        .order_by(m.Expense.occurred_on, m.Expense.id)
        .limit(EXPORT_CHUNK_ROWS)
    )
    if dialect != "postgresql":
        return rows
    # PostgreSQL joins the chunk into one text: no Python object per row.
    chunk = rows.subquery()
    return select(
        func.string_agg(
            chunk.c.line + cast(chunk.c.id, Text) + "\n",
            aggregate_order_by(literal_column("''"), chunk.c.occurred_on, chunk.c.id),
        ),
        func.count(),
        func.max(chunk.c.occurred_on),
    )


async def _read_chunk(
    engine: AsyncEngine, statement: Select[Any], after: dict[str, Any]
) -> tuple[str, int, dict[str, Any]]:
    """(CSV text, rows, the position after its last row) of one chunk, read by one statement
    in autocommit on a connection that goes back to the pool before the chunk is sent."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        result = await connection.execute(statement, after)
        if engine.dialect.name == "postgresql":
            text, count, last_date = result.one()
            # Every line ends with the expense's id, so the chunk's last id ends the text.
            last_id = uuid.UUID(text[-37:-1]) if count else None
        else:
            lines = result.all()
            text = "".join(f"{line}{row_id}\n" for line, _date, row_id in lines)
            count = len(lines)
            last_date, last_id = (lines[-1][1], lines[-1][2]) if lines else (None, None)
    return text or "", count, {"after_occurred_on": last_date, "after_id": last_id}


async def _stream_chunks(
    engine: AsyncEngine,
    conditions: list[ColumnElement[bool]],
    first: tuple[str, int, dict[str, Any]],
) -> AsyncIterator[bytes]:
    # Keyset chunks: a client that stops reading holds no connection and no transaction, only
    # the chunks it has not taken yet (at most two). Both statements are built once, so each
    # chunk costs one cached execution.
    dialect = engine.dialect.name
    following = _chunk_statement(dialect, [*conditions, _AFTER])
    yield (",".join(CSV_HEADER) + "\n").encode()
    text, count, after = first
    upcoming: asyncio.Future[tuple[str, int, dict[str, Any]]] | None = None
    try:
        while count:
            if count == EXPORT_CHUNK_ROWS:
                # The database reads the next chunk while this one goes to the client.
                upcoming = asyncio.ensure_future(_read_chunk(engine, following, after))
            yield text.encode()
            if upcoming is None:
                return
            text, count, after = await upcoming
            upcoming = None
    finally:
        if upcoming is not None:
            await upcoming  # the client went away: let the read end and free its connection


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


_IMPORTED_COLUMNS = [
    "id",
    "user_id",
    "amount",
    "currency",
    "occurred_on",
    "merchant",
    "merchant_key",
    "category_id",
    "note",
    "tags",
    "payment_method",
    "import_key",
    "created_at",
    "updated_at",
]


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
