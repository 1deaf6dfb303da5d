"""CSV export: the database formats the rows, in keyset chunks, with no transaction held while
the client reads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
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
    literal,
    literal_column,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncEngine

from expense_wise.db import models as m
from expense_wise.db.types import MONEY_SCALE
from expense_wise.domain.expenses import schemas
from expense_wise.domain.expenses.csv_io import CSV_HEADER, FORMULA_STARTS, TAG_SEPARATOR
from expense_wise.domain.expenses.filters import filter_conditions
from expense_wise.money import ISO_4217, minor_units

# Rows per export chunk: one short query each (about 1.2 MB of CSV), and no connection or
# transaction held while the client reads it, however slowly.
EXPORT_CHUNK_ROWS = 10_000

_EXPENSES: Table = m.Expense.__table__  # type: ignore[assignment]  # declared as FromClause
_CATEGORIES: Table = m.Category.__table__  # type: ignore[assignment]


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
