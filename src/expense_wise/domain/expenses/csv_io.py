"""CSV export (streamed) and all-or-nothing CSV import of expenses."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from expense_wise.db import models as m
from expense_wise.domain.categories.services import name_key
from expense_wise.domain.expenses import schemas
from expense_wise.domain.expenses.services import (
    clean_tags,
    default_currency,
    filter_conditions,
    merchant_key,
)
from expense_wise.money import AmountError, format_amount, is_currency, parse_amount

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
TAG_SEPARATOR = ";"
MAX_IMPORT_ROWS = 50_000
EXPORT_BATCH = 1000


def _csv_line(values: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _safe_cell(value: str) -> str:
    # Spreadsheet apps run cells starting with these as formulas (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(
    session_factory: async_sessionmaker[AsyncSession],
    dialect: str,
    user_id: uuid.UUID,
    filters: schemas.ExpenseFilters,
) -> AsyncIterator[str]:
    """CSV rows oldest first. Filters are checked here, before the response starts, so bad
    input is a 422 and not a broken stream."""
    conditions = filter_conditions(dialect, user_id, filters)
    return _stream_rows(session_factory, user_id, conditions)


async def _stream_rows(
    session_factory: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
    conditions: list[ColumnElement[bool]],
) -> AsyncIterator[str]:
    # Fetched in keyset batches so memory stays flat for any size; the stream outlives the
    # request handler, so it opens its own session.
    async with session_factory() as session:
        rows = await session.execute(
            select(m.Category.id, m.Category.name).where(m.Category.user_id == user_id)
        )
        categories = {category_id: name for category_id, name in rows.tuples()}
        yield _csv_line(CSV_HEADER)
        last: tuple[dt.date, uuid.UUID] | None = None
        while True:
            query = select(m.Expense).where(and_(*conditions))
            if last is not None:
                query = query.where(
                    tuple_(m.Expense.occurred_on, m.Expense.id)
                    > tuple_(literal(last[0]), literal(last[1]))
                )
            batch = (
                await session.scalars(
                    query.order_by(m.Expense.occurred_on, m.Expense.id).limit(EXPORT_BATCH)
                )
            ).all()
            if not batch:
                return
            yield _csv_chunk(batch, categories)
            last = (batch[-1].occurred_on, batch[-1].id)


def _csv_chunk(rows: Sequence[m.Expense], categories: dict[uuid.UUID, str]) -> str:
    chunk = io.StringIO()
    writer = csv.writer(chunk, lineterminator="\n")
    for row in rows:
        category = categories.get(row.category_id, "") if row.category_id else ""
        writer.writerow(
            [
                row.occurred_on.isoformat(),
                format_amount(row.amount, row.currency),
                row.currency,
                _safe_cell(row.merchant),
                _safe_cell(category),
                TAG_SEPARATOR.join(row.tags or []),
                _safe_cell(row.note or ""),
                _safe_cell(row.payment_method or ""),
                str(row.id),
            ]
        )
    return chunk.getvalue()


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
    return value[1:] if value.startswith("'") and value[1:2] in ("=", "+", "-", "@") else value


def parse_csv(
    data: bytes, fallback_currency: str
) -> tuple[list[ParsedRow], list[schemas.ImportRowError]]:
    """Parse and validate every row; rows are numbered as in a spreadsheet (header = 1)."""
    errors: list[schemas.ImportRowError] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [schemas.ImportRowError(row=0, field="file", message="must be UTF-8 text")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = REQUIRED_COLUMNS - set(header)
    unknown = set(header) - set(CSV_HEADER)
    if missing or unknown:
        problems = []
        if missing:
            problems.append("missing columns: " + ", ".join(sorted(missing)))
        if unknown:
            problems.append("unknown columns: " + ", ".join(sorted(unknown)))
        return [], [schemas.ImportRowError(row=1, field="header", message="; ".join(problems))]
    reader.fieldnames = header
    parsed: list[ParsedRow] = []
    seen_content: Counter[str] = Counter()
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_IMPORT_ROWS:
            errors.append(
                schemas.ImportRowError(
                    row=number, field="file", message=f"more than {MAX_IMPORT_ROWS} rows"
                )
            )
            break
        if None in raw:
            errors.append(
                schemas.ImportRowError(row=number, field="row", message="more values than columns")
            )
            continue
        row = {key: (value or "").strip() for key, value in raw.items()}
        row_errors: list[schemas.ImportRowError] = []

        def fail(
            field: str,
            message: str,
            number: int = number,
            row_errors: list[schemas.ImportRowError] = row_errors,
        ) -> None:
            row_errors.append(schemas.ImportRowError(row=number, field=field, message=message))

        occurred_on = None
        try:
            occurred_on = dt.date.fromisoformat(row.get("date", ""))
        except ValueError:
            fail("date", "must be a date as YYYY-MM-DD")
        currency = row.get("currency") or fallback_currency
        if not is_currency(currency):
            fail("currency", f"{currency!r} is not an ISO 4217 currency code")
        amount = None
        try:
            amount = parse_amount(
                row.get("amount", ""), currency if is_currency(currency) else "EUR"
            )
        except AmountError as error:
            fail("amount", str(error))
        merchant = _unquote(row.get("merchant", ""))
        if not merchant:
            fail("merchant", "is required")
        elif len(merchant) > 200:
            fail("merchant", "must be at most 200 characters")
        tags = clean_tags(row.get("tags", "").split(TAG_SEPARATOR))
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
        if row_errors:
            errors.extend(row_errors)
            continue
        assert occurred_on is not None and amount is not None
        if row_id:
            import_key = row_id
        else:
            # Without an id, a row is identified by its content and its occurrence number,
            # so two identical rows in one file are two expenses, and re-importing adds none.
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
            import_key = hashlib.sha256(
                f"{content}\x1e{seen_content[content]}".encode()
            ).hexdigest()
        parsed.append(
            ParsedRow(
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
        )
    return parsed, errors


async def import_rows(
    session: AsyncSession, user_id: uuid.UUID, rows: list[ParsedRow]
) -> schemas.ImportResult:
    """Insert the rows not imported before, creating missing categories by name; the caller
    commits once, so the import is all or nothing."""
    keys = [row.import_key for row in rows]
    existing: set[str] = set()
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        existing.update(
            key
            for key in (
                await session.scalars(
                    select(m.Expense.import_key).where(
                        m.Expense.user_id == user_id, m.Expense.import_key.in_(batch)
                    )
                )
            ).all()
            if key is not None
        )
        ids = [uuid.UUID(key) for key in batch if len(key) == 36]
        if ids:
            existing.update(
                str(found)
                for found in (
                    await session.scalars(
                        select(m.Expense.id).where(
                            m.Expense.user_id == user_id, m.Expense.id.in_(ids)
                        )
                    )
                ).all()
            )
    categories = {
        key: category_id
        for category_id, key in (
            await session.execute(
                select(m.Category.id, m.Category.name_key).where(m.Category.user_id == user_id)
            )
        ).tuples()
    }
    imported = 0
    for row in rows:
        if row.import_key in existing:
            continue
        existing.add(row.import_key)
        category_id = None
        if row.category:
            key = name_key(row.category)
            if key not in categories:
                category = m.Category(
                    user_id=user_id, name=" ".join(row.category.split()), name_key=key
                )
                session.add(category)
                await session.flush()
                categories[key] = category.id
            category_id = categories[key]
        session.add(
            m.Expense(
                user_id=user_id,
                amount=row.amount,
                currency=row.currency,
                occurred_on=row.occurred_on,
                merchant=row.merchant,
                merchant_key=merchant_key(row.merchant),
                category_id=category_id,
                note=row.note,
                tags=row.tags,
                payment_method=row.payment_method,
                import_key=row.import_key,
            )
        )
        imported += 1
    await session.flush()
    return schemas.ImportResult(imported=imported, skipped_duplicates=len(rows) - imported)


async def import_csv(
    session: AsyncSession, user_id: uuid.UUID, data: bytes
) -> tuple[schemas.ImportResult | None, list[schemas.ImportRowError]]:
    rows, errors = parse_csv(data, await default_currency(session, user_id))
    if errors:
        return None, errors
    return await import_rows(session, user_id, rows), []
