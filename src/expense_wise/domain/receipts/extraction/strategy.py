"""Which readings of a receipt are made, and which field is taken from which reading.

`tesseract`: a plain reading; the faint-print reading instead when the plain one found
almost no words; a closer look for a missing or doubtful date or total; and for a date or
total still missing, the preparations of the image not tried yet.

`rapidocr`: one RapidOCR reading.

`auto`: the plain (or faint-print) Tesseract reading, and RapidOCR only when that one is
doubtful: a field missing, the amounts contradicting the total, low word confidence or a
merchant not found all show as a calibrated confidence below ESCALATION_CONFIDENCE. RapidOCR
then reads again the pieces of the rows Tesseract found that hold the fields (reread.py,
about a third of the cost of a whole reading); if the fields are still doubtful, or
Tesseract found almost nothing, RapidOCR reads the whole receipt.
Where both engines read a field alike it is taken with their shared evidence; where they
differ, RapidOCR's reading wins (it misreads digits far less often) unless it found nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Final

import msgspec

from expense_wise.domain.receipts.extraction.confidence import (
    ESCALATION_CONFIDENCE,
    CalibrationTable,
    calibrated,
    default_table,
    likelihood,
)
from expense_wise.domain.receipts.extraction.fields import (
    REVIEWED_FIELDS,
    ExtractedFields,
    extract_fields,
)
from expense_wise.domain.receipts.extraction.merchant import merchant_matches
from expense_wise.domain.receipts.extraction.reread import Recogniser, reread
from expense_wise.domain.receipts.ocr import MIN_LEGIBLE_WORDS, OcrResult, legible_word_count

# One Tesseract reading of the receipt: (enlarge, faint_print) -> OcrResult.
OcrReader = Callable[[float, bool], OcrResult]
# The RapidOCR reading of the receipt.
StrongReader = Callable[[], OcrResult]

# An enlarged copy of the scan reads small or faint digits better but loses other words and
# takes about twice as long, so it is read only when the first reading leaves the date or
# the total missing or doubtful, and only those fields are taken from it.
SECOND_LOOK_ENLARGE: Final = 1.5
# A total found only by the no-label fallback (confidence 0.2) is as often wrong as right.
_DOUBTFUL_TOTAL_CONFIDENCE: Final = 0.25
# (enlarge, faint_print), in the order they are tried: the faint-print preparation, then a
# smaller and a larger scale, for print too large or too small for Tesseract's models.
_LAST_RESORT_READINGS: Final = (
    (1.0, True),
    (SECOND_LOOK_ENLARGE, True),
    (0.75, False),
    (2.0, True),
)


def read_receipt(read: OcrReader) -> tuple[ExtractedFields, int]:
    """The `tesseract` strategy. Returns the fields (with the rules' own scores) and how
    many readings were made (the benchmark reports it)."""
    ocr, faint_print, readings = first_reading(read)
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


def read_cascade(
    read: OcrReader,
    read_strong: StrongReader,
    recognise: Recogniser,
    table: CalibrationTable | None = None,
    escalate_below: float = ESCALATION_CONFIDENCE,
) -> tuple[ExtractedFields, int]:
    """The `auto` strategy. Returns the fields and how many readings were made (a reading of
    the pieces counts as one)."""
    ocr, _, readings = first_reading(read)
    first = extract_fields(ocr)
    if not needs_escalation(first, table, escalate_below):
        return first, readings
    if legible_word_count(ocr) >= MIN_LEGIBLE_WORDS:
        closer = combined(first, extract_fields(reread(ocr, recognise)), table)
        readings += 1
        if not needs_escalation(closer, table, escalate_below):
            return closer, readings
    return combined(first, extract_fields(read_strong()), table), readings + 1


def needs_escalation(
    fields: ExtractedFields,
    table: CalibrationTable | None = None,
    escalate_below: float = ESCALATION_CONFIDENCE,
) -> bool:
    """Whether a reading is too doubtful to keep without the stronger engine's."""
    sure = calibrated(fields, table).confidence
    return bool(fields_needing_second_look(fields)) or any(
        sure[name] < escalate_below for name in REVIEWED_FIELDS
    )


def combined(
    cheap: ExtractedFields, strong: ExtractedFields, table: CalibrationTable | None = None
) -> ExtractedFields:
    """One field set from two engines' readings: where they agree, the value with their
    shared evidence (`both`); where they differ, the one whose engine was right more often
    with such a score (`disputed`); where only one read it, that one."""
    table = default_table() if table is None else table
    values: dict[str, object] = {}
    confidence = dict(strong.confidence)
    sources = dict(strong.sources)
    for name in ("merchant", "date", "total", "currency"):
        mine, theirs = getattr(strong, name), getattr(cheap, name)
        if theirs is None:
            continue
        if mine is None:
            values[name] = theirs
            confidence[name], sources[name] = cheap.confidence[name], cheap.sources[name]
        elif _same(name, mine, theirs):
            confidence[name] = max(strong.confidence[name], cheap.confidence[name])
            sources[name] = "both"
        else:
            sources[name] = "disputed"
            cheap_odds = likelihood(table, name, cheap.sources[name], cheap.confidence[name])
            strong_odds = likelihood(table, name, strong.sources[name], strong.confidence[name])
            if cheap_odds > strong_odds:
                values[name] = theirs
                confidence[name] = cheap.confidence[name]
    return msgspec.structs.replace(
        strong,
        **values,
        confidence=confidence,
        sources=sources,
        raw_text=strong.raw_text or cheap.raw_text,
    )


def _same(name: str, first: object, second: object) -> bool:
    if name == "merchant":
        return merchant_matches(str(first), str(second))
    return first == second


def first_reading(read: OcrReader) -> tuple[OcrResult, bool, int]:
    """The plain reading, or the faint-print one when the plain one found almost nothing."""
    ocr = read(1.0, False)
    if legible_word_count(ocr) >= MIN_LEGIBLE_WORDS:
        return ocr, False, 1
    retry = read(1.0, True)
    if legible_word_count(retry) > legible_word_count(ocr):
        return retry, True, 2
    return ocr, False, 2


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
