"""Query-string filters shared by the expense list, the CSV export and the reports."""

from __future__ import annotations

import datetime as dt
import uuid

from litestar.di import Provide
from litestar.params import Parameter

from expense_wise.domain.expenses.schemas import ExpenseFilters


def provide_expense_filters(
    date_from: dt.date | None = Parameter(
        query="from", default=None, description="Earliest occurred_on (inclusive)"
    ),
    date_to: dt.date | None = Parameter(
        query="to", default=None, description="Latest occurred_on (inclusive)"
    ),
    category_id: uuid.UUID | None = Parameter(query="category_id", default=None),
    tag: str | None = Parameter(query="tag", default=None, max_length=50),
    q: str | None = Parameter(
        query="q", default=None, max_length=200, description="Text in merchant or note"
    ),
    min_amount: str | None = Parameter(query="min_amount", default=None, max_length=30),
    max_amount: str | None = Parameter(query="max_amount", default=None, max_length=30),
    currency: str | None = Parameter(query="currency", default=None, pattern=r"^[A-Z]{3}$"),
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
