"""The fields of one reading: each rule run on the reading's printed rows."""

from __future__ import annotations

import datetime
from decimal import Decimal

import msgspec

from expense_wise.domain.receipts.extraction.currency import find_currency
from expense_wise.domain.receipts.extraction.date import find_date
from expense_wise.domain.receipts.extraction.merchant import find_merchant
from expense_wise.domain.receipts.extraction.text import receipt_lines
from expense_wise.domain.receipts.extraction.total import find_total
from expense_wise.domain.receipts.ocr import OcrResult

# The fields an expense needs; currency falls back to the user's default.
REVIEWED_FIELDS = ("merchant", "date", "total")


class ExtractedFields(msgspec.Struct):
    merchant: str | None
    date: datetime.date | None
    total: Decimal | None
    currency: str | None
    # How likely each field is right, 0..1, keyed by merchant/date/total/currency: the
    # rules' own scores for one reading, calibrated ones once the reading strategy is done.
    confidence: dict[str, float]
    raw_text: str
    # Which engine read each field ("tesseract", "rapidocr", or "both" when they agreed).
    sources: dict[str, str] = msgspec.field(default_factory=dict)
    # The fields whose calibrated confidence is below the review threshold.
    review_fields: list[str] = msgspec.field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return bool(self.review_fields)


def extract_fields(ocr: OcrResult) -> ExtractedFields:
    """Every field as the rules find it in one reading, with the rules' own scores."""
    lines = receipt_lines(ocr)
    merchant, merchant_confidence = find_merchant(lines)
    date, date_confidence = find_date(lines)
    total, total_confidence = find_total(lines)
    currency, currency_confidence = find_currency(lines)
    return ExtractedFields(
        merchant=merchant,
        date=date,
        total=total,
        currency=currency,
        confidence={
            "merchant": round(merchant_confidence, 2),
            "date": round(date_confidence, 2),
            "total": round(total_confidence, 2),
            "currency": round(currency_confidence, 2),
        },
        # The printed rows, which read better than the engine's own line breaks.
        raw_text="\n".join(line.text for line in lines),
        sources=dict.fromkeys(("merchant", "date", "total", "currency"), ocr.engine),
    )
