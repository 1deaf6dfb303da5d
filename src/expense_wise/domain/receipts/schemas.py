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

ReceiptStatus = Literal["pending", "processing", "done", "failed"]
# The expense fields a receipt's merchant, date and total become.
ReviewField = Literal["merchant", "occurred_on", "amount"]


class ExtractedFields(msgspec.Struct):
    """What OCR read on the receipt; any field may be null when it could not be found."""

    merchant: str | None
    date: dt.date | None
    total: str | None
    currency: str | None
    confidence: Annotated[
        dict[str, float],
        msgspec.Meta(
            description="Per field, how likely it is right (0..1), calibrated on receipts "
            "with ground truth: at 0.9 or above, right at least 97% of the time"
        ),
    ]
    raw_text: str | None
    needs_review: Annotated[
        bool,
        msgspec.Meta(
            description="A field is below 0.9 confidence: creating an expense from this "
            "receipt needs those fields sent, or confirm: true"
        ),
    ]
    review_fields: Annotated[
        list[ReviewField], msgspec.Meta(description="The expense fields to check")
    ]


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
    occurred_on: Day | None = None
    merchant: Merchant | None = None
    category_id: uuid.UUID | None = None
    note: Note | None = None
    tags: Tags = msgspec.field(default_factory=list)
    payment_method: PaymentMethod | None = None
    confirm: Annotated[
        bool,
        msgspec.Meta(
            description="Create the expense although the receipt needs review, "
            "taking the fields as read"
        ),
    ] = False
