"""Query-string filters shared by the expense list, the CSV export and the reports."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from litestar.di import Provide
from litestar.params import QueryParameter

from expense_wise.api import described_pattern
from expense_wise.domain.expenses.schemas import ExpenseFilters
from expense_wise.fields import DATE_RANGE_PATTERN, NO_NUL
from expense_wise.money import BOUND_PATTERN, CURRENCIES

BOUND_MESSAGE = (
    "must be a decimal number such as 12.50 (digits 0-9 and an optional point), with at most "
    "4 decimals"
)
BOUND = described_pattern(BOUND_PATTERN, BOUND_MESSAGE)
CURRENCY = r"^[A-Z]{3}$"


def provide_expense_filters(
    date_from: Annotated[
        dt.date | None,
        QueryParameter(
            name="from",
            description="Earliest occurred_on (inclusive)",
            schema_extra={"pattern": DATE_RANGE_PATTERN},
        ),
    ] = None,
    date_to: Annotated[
        dt.date | None,
        QueryParameter(
            name="to",
            description="Latest occurred_on (inclusive)",
            schema_extra={"pattern": DATE_RANGE_PATTERN},
        ),
    ] = None,
    category_id: Annotated[uuid.UUID | None, QueryParameter(name="category_id")] = None,
    tag: Annotated[
        str | None, QueryParameter(name="tag", max_length=50, pattern=r"^[^\x00]*$")
    ] = None,
    q: Annotated[
        str | None,
        QueryParameter(
            name="q", max_length=200, pattern=NO_NUL, description="Text in merchant or note"
        ),
    ] = None,
    min_amount: Annotated[
        str | None,
        QueryParameter(name="min_amount", pattern=BOUND, description="Smallest amount"),
    ] = None,
    max_amount: Annotated[
        str | None,
        QueryParameter(name="max_amount", pattern=BOUND, description="Largest amount"),
    ] = None,
    currency: Annotated[
        str | None,
        QueryParameter(name="currency", pattern=CURRENCY, schema_extra={"enum": CURRENCIES}),
    ] = None,
) -> ExpenseFilters:
    return ExpenseFilters(
        date_from=date_from,
        date_to=date_to,
        category_id=category_id,
        tag=tag,
        q=q,
        min_amount=min_amount,
        max_amount=max_amount,
        currency=currency,
    )


FILTER_DEPENDENCIES = {"filters": Provide(provide_expense_filters, sync_to_thread=False)}
