from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from expense_wise.api import described_pattern
from expense_wise.fields import NO_NUL, NOT_BLANK, AmountInput, Currency, Day

Merchant = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NOT_BLANK)]
Note = Annotated[str, msgspec.Meta(max_length=2000, pattern=NO_NUL)]
Tag = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=50,
        pattern=described_pattern(
            r"^[^;,\n\r\x00]+$", "must not contain a comma, semicolon, line break or NUL"
        ),
    ),
]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=20)]
PaymentMethod = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=NO_NUL)]


class Expense(msgspec.Struct):
    id: uuid.UUID
    amount: str
    currency: str
    occurred_on: dt.date
    merchant: str
    category_id: uuid.UUID | None
    note: str | None
    tags: list[str]
    payment_method: str | None
    receipt_id: uuid.UUID | None
    recurring_id: uuid.UUID | None
    possible_duplicate_of: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ExpenseCreate(msgspec.Struct, forbid_unknown_fields=True):
    amount: AmountInput
    occurred_on: Day
    merchant: Merchant
    currency: Currency | None = None
    category_id: uuid.UUID | None = None
    note: Note | None = None
    tags: Tags = msgspec.field(default_factory=list)
    payment_method: PaymentMethod | None = None


class ExpenseUpdate(msgspec.Struct, forbid_unknown_fields=True):
    amount: AmountInput | msgspec.UnsetType = msgspec.UNSET
    occurred_on: Day | msgspec.UnsetType = msgspec.UNSET
    merchant: Merchant | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    category_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    note: Note | msgspec.UnsetType | None = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    payment_method: PaymentMethod | msgspec.UnsetType | None = msgspec.UNSET


class ExpensePage(msgspec.Struct):
    items: list[Expense]
    next_cursor: str | None


class ImportRowError(msgspec.Struct):
    row: int
    field: str
    message: str


class ImportResult(msgspec.Struct):
    imported: int
    skipped_duplicates: int


class ExpenseFilters(msgspec.Struct):
    """The filters shared by listing, export and reports."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    category_id: uuid.UUID | None = None
    tag: str | None = None
    q: str | None = None
    min_amount: str | None = None
    max_amount: str | None = None
    currency: str | None = None
