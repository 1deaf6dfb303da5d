from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from expense_wise.domain.expenses.schemas import (
    AmountInput,
    Currency,
    Merchant,
    Note,
    PaymentMethod,
    Tags,
)

ReceiptStatus = Literal["pending", "processing", "done", "failed"]


class ExtractedFields(msgspec.Struct):
    """What OCR read on the receipt; any field may be null when it could not be found."""

    merchant: str | None
    date: dt.date | None
    total: str | None
    currency: str | None
    confidence: dict[str, float]
    raw_text: str | None


class Receipt(msgspec.Struct):
    id: uuid.UUID
    status: ReceiptStatus
    error: str | None
    sha256: str
    content_type: str
    size: int
    attempts: int
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    extracted: Annotated[
        ExtractedFields | None,
        msgspec.Meta(description="Null until OCR has finished successfully"),
    ]
    expense_id: uuid.UUID | None


class ReceiptPage(msgspec.Struct):
    items: list[Receipt]
    next_cursor: str | None


class ExpenseFromReceipt(msgspec.Struct, forbid_unknown_fields=True):
    """Values that replace what OCR read; every field is optional."""

    amount: AmountInput | None = None
    currency: Currency | None = None
    occurred_on: dt.date | None = None
    merchant: Merchant | None = None
    category_id: uuid.UUID | None = None
    note: Note | None = None
    tags: Tags = msgspec.field(default_factory=list)
    payment_method: PaymentMethod | None = None
