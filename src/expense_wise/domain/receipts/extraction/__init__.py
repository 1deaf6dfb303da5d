"""Pick merchant, date, total and currency out of a receipt's OCR text.

The rules follow how till receipts are laid out rather than any particular shop: the
merchant's name is printed at the top, above the address and registration numbers; the
amount to pay sits on a line labelled TOTAL (or GRAND TOTAL, NET TOTAL, AMOUNT DUE...) near
the payment lines (CASH, CHANGE); the date is printed once, usually next to the time.
OCR mistakes that are common on thermal-paper scans (O for 0, S for 5, a comma for the
decimal point, stray spaces inside numbers) are tolerated.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Final

import msgspec
from PIL import Image

from expense_wise.domain.receipts.extraction.currency import find_currency
from expense_wise.domain.receipts.extraction.date import find_date
from expense_wise.domain.receipts.extraction.merchant import find_merchant, merchant_matches
from expense_wise.domain.receipts.extraction.text import receipt_lines
from expense_wise.domain.receipts.extraction.total import find_total
from expense_wise.domain.receipts.ocr import (
    MIN_LEGIBLE_WORDS,
    OcrResult,
    legible_word_count,
    load_image,
    run_ocr,
)

__all__ = [
    "SECOND_LOOK_ENLARGE",
    "ExtractedFields",
    "extract",
    "extract_fields",
    "extract_from_image",
    "fields_needing_second_look",
    "merchant_matches",
    "merge_second_look",
    "read_receipt",
]


class ExtractedFields(msgspec.Struct):
    merchant: str | None
    date: datetime.date | None
    total: Decimal | None
    currency: str | None
    # How sure each rule was, 0..1, keyed by merchant/date/total/currency.
    confidence: dict[str, float]
    raw_text: str


# An enlarged copy of the scan reads small or faint digits better but loses other words and
# takes about twice as long, so it is read only when the first reading leaves the date or
# the total missing or doubtful, and only those fields are taken from it.
SECOND_LOOK_ENLARGE: Final = 1.5
# A total found only by the no-label fallback (confidence 0.2) is as often wrong as right.
_DOUBTFUL_TOTAL_CONFIDENCE: Final = 0.25


def extract(data: bytes) -> ExtractedFields:
    """Decode, OCR and parse an uploaded receipt. Raises ImageRejected for unreadable files."""
    fields, _ = extract_from_image(load_image(data))
    return fields


def extract_from_image(image: Image.Image) -> tuple[ExtractedFields, int]:
    """OCR and parse a decoded receipt; also says how many Tesseract readings it took."""
    return read_receipt(lambda enlarge, faint_print: run_ocr(image, enlarge, faint_print))


# One Tesseract reading of the receipt: (enlarge, faint_print) -> OcrResult.
OcrReader = Callable[[float, bool], OcrResult]


def read_receipt(read: OcrReader) -> tuple[ExtractedFields, int]:
    """The reading strategy: a plain reading; the faint-print reading instead when the plain
    one found almost no words; a closer look for a missing or doubtful date or total; and
    for a date or total still missing, the preparations of the image not tried yet.

    Returns the fields and how many readings were made (the benchmark reports it).
    """
    ocr = read(1.0, False)
    readings = 1
    faint_print = False
    if legible_word_count(ocr) < MIN_LEGIBLE_WORDS:
        retry = read(1.0, True)
        readings += 1
        if legible_word_count(retry) > legible_word_count(ocr):
            ocr, faint_print = retry, True
    first = extract_fields(ocr)
    doubtful = fields_needing_second_look(first)
    if not doubtful:
        return first, readings
    second_look = (SECOND_LOOK_ENLARGE, faint_print)
    fields = merge_second_look(first, extract_fields(read(*second_look)), doubtful)
    readings += 1
    # Last resort for a date or total that no reading so far shows at all: other
    # preparations and scales of the image (about 5% of receipts, already the hardest ones;
    # a receipt with no date at all costs six readings).
    tried = {(1.0, False), (1.0, faint_print), second_look}
    for variant in _LAST_RESORT_READINGS:
        missing = _missing_fields(fields)
        if not missing:
            break
        if variant in tried:
            continue
        fields = merge_second_look(fields, extract_fields(read(*variant)), missing)
        readings += 1
    return fields, readings


# (enlarge, faint_print), in the order they are tried: the faint-print preparation, then a
# smaller and a larger scale, for print too large or too small for Tesseract's models.
_LAST_RESORT_READINGS: Final = (
    (1.0, True),
    (SECOND_LOOK_ENLARGE, True),
    (0.75, False),
    (2.0, True),
)


def _missing_fields(fields: ExtractedFields) -> frozenset[str]:
    missing = set()
    if not _plausible_date(fields.date, None):
        missing.add("date")
    if fields.total is None:
        missing.add("total")
    return frozenset(missing)


def fields_needing_second_look(
    fields: ExtractedFields, today: datetime.date | None = None
) -> frozenset[str]:
    """The fields ("date", "total") that a closer reading of the image might get right.

    A date is doubtful when missing or after `today` (default: the current date) by more
    than a day (time zones); a total when missing or found only by the no-label fallback.
    """
    doubtful = set()
    if not _plausible_date(fields.date, today):
        doubtful.add("date")
    if fields.total is None or fields.confidence["total"] < _DOUBTFUL_TOTAL_CONFIDENCE:
        doubtful.add("total")
    return frozenset(doubtful)


def _plausible_date(date: datetime.date | None, today: datetime.date | None) -> bool:
    latest = (today or datetime.date.today()) + datetime.timedelta(days=1)
    return date is not None and date <= latest


def merge_second_look(
    first: ExtractedFields,
    second: ExtractedFields,
    doubtful: frozenset[str],
    today: datetime.date | None = None,
) -> ExtractedFields:
    """Take the doubtful fields from the second reading where it is surer of them."""
    date, total = first.date, first.total
    confidence = dict(first.confidence)
    if "date" in doubtful and _plausible_date(second.date, today):
        date = second.date
        confidence["date"] = second.confidence["date"]
    if (
        "total" in doubtful
        and second.total is not None
        and (first.total is None or second.confidence["total"] > confidence["total"])
    ):
        total = second.total
        confidence["total"] = second.confidence["total"]
    return msgspec.structs.replace(first, date=date, total=total, confidence=confidence)


def extract_fields(ocr: OcrResult) -> ExtractedFields:
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
        raw_text=ocr.text,
    )
