from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from expense_wise.domain.expenses.schemas import (
    Merchant,
    Note,
    PaymentMethod,
    Tags,
)
from expense_wise.fields import AmountInput, Currency, Day

Frequency = Literal["daily", "weekly", "monthly", "yearly"]
Interval = Annotated[
    int, msgspec.Meta(ge=1, le=1000, description="Every `interval` days/weeks/months/years")
]


class RecurringExpense(msgspec.Struct):
    id: uuid.UUID
    amount: str
    currency: str
    merchant: str
    category_id: uuid.UUID | None
    note: str | None
    tags: list[str]
    payment_method: str | None
    frequency: Frequency
    interval: int
    starts_on: dt.date
    ends_on: dt.date | None
    generated_through: dt.date | None  # occurrences up to this date exist as expenses
    next_occurrence: dt.date | None  # None once the schedule has ended
    created_at: dt.datetime
    updated_at: dt.datetime


class RecurringExpenseCreate(msgspec.Struct, forbid_unknown_fields=True):
    amount: AmountInput
    merchant: Merchant
    frequency: Frequency
    starts_on: Day
    interval: Interval = 1
    ends_on: Day | None = None
    currency: Currency | None = None
    category_id: uuid.UUID | None = None
    note: Note | None = None
    tags: Tags = msgspec.field(default_factory=list)
    payment_method: PaymentMethod | None = None


class RecurringExpenseUpdate(msgspec.Struct, forbid_unknown_fields=True):
    amount: AmountInput | msgspec.UnsetType = msgspec.UNSET
    merchant: Merchant | msgspec.UnsetType = msgspec.UNSET
    frequency: Frequency | msgspec.UnsetType = msgspec.UNSET
    starts_on: Day | msgspec.UnsetType = msgspec.UNSET
    interval: Interval | msgspec.UnsetType = msgspec.UNSET
    ends_on: Day | msgspec.UnsetType | None = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    category_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    note: Note | msgspec.UnsetType | None = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    payment_method: PaymentMethod | msgspec.UnsetType | None = msgspec.UNSET
