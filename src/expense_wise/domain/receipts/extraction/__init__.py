"""Pick merchant, date, total and currency out of a receipt.

The rules follow how till receipts are laid out rather than any particular shop: the
merchant's name is printed at the top, above the address and registration numbers
(`merchant.py`); the amount to pay sits on a row labelled TOTAL (or GRAND TOTAL, NET TOTAL,
AMOUNT DUE...) near the payment rows, and agrees with their arithmetic (`total.py`); the
date is printed once, usually next to the time (`date.py`). Rows are rebuilt from the word
boxes (`layout.py`) and OCR slips are undone (`text.py`) before any rule runs. Which
readings are made, with which engine, is `strategy.py`; how sure each field is, and
whether the receipt needs a person's review, `confidence.py`.
"""

from __future__ import annotations

from PIL import Image

from expense_wise.domain.receipts import rapid
from expense_wise.domain.receipts.extraction.confidence import REVIEW_CONFIDENCE, calibrated
from expense_wise.domain.receipts.extraction.fields import (
    REVIEWED_FIELDS,
    ExtractedFields,
    extract_fields,
)
from expense_wise.domain.receipts.extraction.merchant import merchant_matches
from expense_wise.domain.receipts.extraction.strategy import (
    SECOND_LOOK_ENLARGE,
    fields_needing_second_look,
    merge_second_look,
    read_cascade,
    read_receipt,
)
from expense_wise.domain.receipts.images import load_image
from expense_wise.domain.receipts.ocr import OcrResult, run_ocr
from expense_wise.metrics import OCR_READING_SECONDS
from expense_wise.settings import DEFAULT_OCR_ENGINE, OcrEngine

__all__ = [
    "REVIEWED_FIELDS",
    "REVIEW_CONFIDENCE",
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


def extract(data: bytes, engine: OcrEngine = DEFAULT_OCR_ENGINE) -> ExtractedFields:
    """Decode, OCR and parse an uploaded receipt. Raises ImageRejected for unreadable files."""
    fields, _ = extract_from_image(load_image(data), engine)
    return fields


def extract_from_image(
    image: Image.Image, engine: OcrEngine = DEFAULT_OCR_ENGINE
) -> tuple[ExtractedFields, int]:
    """OCR and parse a decoded receipt; also says how many readings it took."""

    def tesseract(enlarge: float, faint_print: bool) -> OcrResult:
        with OCR_READING_SECONDS.labels("tesseract").time():
            return run_ocr(image, enlarge, faint_print)

    def rapid_read() -> OcrResult:
        with OCR_READING_SECONDS.labels("rapidocr").time():
            return rapid.read(image)

    def rapid_recognise(boxes: list[tuple[int, int, int, int]]) -> list[tuple[str, float]]:
        with OCR_READING_SECONDS.labels("rapidocr").time():
            return rapid.recognise(image, boxes)

    if engine == "rapidocr":
        fields, readings = extract_fields(rapid_read()), 1
    elif engine == "auto":
        fields, readings = read_cascade(tesseract, rapid_read, rapid_recognise)
    else:
        fields, readings = read_receipt(tesseract)
    return calibrated(fields), readings
