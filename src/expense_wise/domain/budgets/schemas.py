from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from expense_wise.fields import AmountInput, Currency

Period = Literal["monthly"]
Threshold = Annotated[int, msgspec.Meta(ge=1, le=1000, description="Percent of the amount")]
Thresholds = Annotated[list[Threshold], msgspec.Meta(max_length=10)]


class Budget(msgspec.Struct):
    id: uuid.UUID
    category_id: uuid.UUID | None
    period: Period
    amount: str
    currency: str
    alert_thresholds: list[int]
    period_start: dt.date
    period_end: dt.date
    spent: str
    remaining: str  # negative once the budget is exceeded
    created_at: dt.datetime
    updated_at: dt.datetime


class BudgetCreate(msgspec.Struct, forbid_unknown_fields=True):
    amount: AmountInput
    currency: Currency | None = None
    category_id: uuid.UUID | None = None
    period: Period = "monthly"
    alert_thresholds: Thresholds = msgspec.field(default_factory=lambda: [80, 100])


class BudgetUpdate(msgspec.Struct, forbid_unknown_fields=True):
    amount: AmountInput | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    category_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    period: Period | msgspec.UnsetType = msgspec.UNSET
    alert_thresholds: Thresholds | msgspec.UnsetType = msgspec.UNSET
