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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Final

import msgspec
from PIL import Image

from expense_wise.domain.receipts.ocr import (
    MIN_LEGIBLE_WORDS,
    OcrResult,
    legible_word_count,
    load_image,
    run_ocr,
)


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


def extract_from_bytes(data: bytes) -> ExtractedFields:
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
    lines = _receipt_lines(ocr)
    merchant, merchant_confidence = _find_merchant(lines)
    date, date_confidence = _find_date(lines)
    total, total_confidence = _find_total(lines)
    currency, currency_confidence = _find_currency(lines)
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


# --- lines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    index: int
    text: str
    upper: str  # upper-cased, with digits that stand in for letters inside words fixed
    ocr_confidence: float  # 0..1, mean word confidence of the line


_DEFAULT_OCR_CONFIDENCE: Final = 0.8


def _receipt_lines(ocr: OcrResult) -> list[_Line]:
    texts = [" ".join(raw.split()) for raw in ocr.text.splitlines()]
    texts = [text for text in texts if text]
    confidences = _line_confidences(ocr)
    if len(confidences) != len(texts):
        confidences = [_DEFAULT_OCR_CONFIDENCE] * len(texts)
    return [
        _Line(index=i, text=text, upper=_letters_fixed(text.upper()), ocr_confidence=conf)
        for i, (text, conf) in enumerate(zip(texts, confidences, strict=True))
    ]


def _line_confidences(ocr: OcrResult) -> list[float]:
    sums: dict[tuple[int, int, int], list[float]] = {}
    for word in ocr.words:
        sums.setdefault((word.block, word.paragraph, word.line), []).append(word.confidence)
    return [sum(values) / len(values) / 100 for values in sums.values()]


_DIGIT_AS_LETTER: Final = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})


def _letters_fixed(upper: str) -> str:
    """Turn digits inside mostly-letter words back into letters (T0TAL -> TOTAL)."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        letters = sum(ch.isalpha() for ch in word)
        return word.translate(_DIGIT_AS_LETTER) if letters >= 3 else word

    return re.sub(r"[A-Z0-9]+", fix, upper)


# --- amounts -----------------------------------------------------------------------------

_LETTER_AS_DIGIT: Final = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "S": "5",
        "s": "5",
        "l": "1",
        "I": "1",
        "|": "1",
        "B": "8",
        "Z": "2",
    }
)
# A token that is a number apart from a few letters OCR confuses with digits.
_NUMERIC_TOKEN: Final = re.compile(
    r"(?P<prefix>RM|MYR|\$|\()?(?P<body>[0-9OoDQSsIl|BZ,.:/\-]*[0-9][0-9OoDQSsIl|BZ,.:/\-]*)"
)
# Money: integer part (optionally with thousands separators), a decimal mark, two decimals.
# A space may surround the decimal mark ("20. 00"), and a comma may stand in for the point.
_AMOUNT: Final = re.compile(
    r"(?<![\d.,])(?P<int>\d{1,3}(?:,\d{3})+|\d{1,7})\s?[.,]\s?(?P<dec>\d{2})(?![\d])"
)


@dataclass(frozen=True)
class _Amount:
    value: Decimal
    start: int  # position in the line, to tell the label from the value


def _digits_fixed(text: str) -> str:
    """Read letters as digits inside number-like words ("1O.5O" -> "10.50", "S.20" -> "5.20")."""

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        numeric = _NUMERIC_TOKEN.fullmatch(token)
        if numeric is None:
            return token
        body = numeric.group("body")
        digits = sum(ch.isdigit() for ch in body)
        letters = sum(ch.isalpha() or ch == "|" for ch in body)
        if letters > digits + 1:
            return token
        return token[: numeric.start("body")] + body.translate(_LETTER_AS_DIGIT)

    return re.sub(r"\S+", fix, text)


def _amounts(text: str) -> list[_Amount]:
    fixed = _digits_fixed(text)
    found = []
    for match in _AMOUNT.finditer(fixed):
        integer = match.group("int").replace(",", "")
        try:
            value = Decimal(f"{integer}.{match.group('dec')}")
        except InvalidOperation:
            continue
        found.append(_Amount(value=value, start=match.start()))
    return found


# --- total -------------------------------------------------------------------------------

# Label patterns, strongest first. A line is classified by the first pattern that matches.
_NOT_TOTAL: Final = re.compile(
    r"TOTAL\s*(QTY|QUANTITY|ITEM|ITM|NO|DISC|SAVING|POINT|PTS|UNIT|PCS)"
    r"|(QTY|ITEMS?|ITM)\s*(\(S\))?\s*:?\s*TOTAL"
    r"|\b(TOTAL|AMOUNT|TOTAL\s*AMOUNT)\s*(OF\s*)?(GST|TAX|SST|VAT)\b"
    r"|\bTAX\s*SUMMARY|\bGST\s*SUMMARY|\bNO\.?\s*OF\s*ITEMS?"
)
_FINAL_TOTAL: Final = re.compile(
    r"GRAND\s*TOTAL|NETT?\s*TOTAL|NETT?\s*AMOUNT|TOTAL\s*ROUNDED|ROUNDED\s*TOTAL"
    r"|TOTAL\s*AFTER\s*(ROUND|ADJ)|AFTER\s*(ROUND|ADJ)|(AMOUNT|AMT)\s*(DUE|PAYABLE)|BALANCE\s*DUE"
    r"|TOTAL\s*(DUE|PAYABLE|TO\s*PAY)|TOTAL\s*\(?\s*INCL|INCL\w*\.?\s*(OF\s*)?(GST|TAX|SST)"
    r"|TOTAL\s*SALES?\s*\(?\s*INCL|TOTAL\s*\(?(RM|MYR)\)?|TOTAL\s*AMOUNT"
    r"|TOTAL\s*(WITH|INC\w*\.?|\+)\s*(GST|TAX|SST)|TOTAL\W*\w*\W*(ADJ|ROUND)"
)
_PRE_TAX_TOTAL: Final = re.compile(
    r"SUB\s*-?\s*TOTAL|SUB\s*TTL|EXCL|EXC\.?\s*(GST|TAX)|BEFORE\s*(GST|TAX)|TOTAL\s*SALES?"
)
_PLAIN_TOTAL: Final = re.compile(r"TOTAL|\bAMOUNT\b|\bAMT\b|\bTTL\b")
_PAYMENT: Final = re.compile(
    r"\bCASH\b|TENDER|\bPAID\b|ACCEPTED|RECEIVED|\bPAYMENT\b|\bVISA\b|MASTER|\bCARD\b|CREDIT|DEBIT|\bEFT"
)
# "GST @6% included in total": the tax, not the total.
_TAX_FIRST: Final = re.compile(r"\W*(GST|TAX|SST|VAT|SERVICE)\b")
_CHANGE: Final = re.compile(r"\bCHANGE\b|\bCHG\b|\bBALANCE\b")
_ROUNDING: Final = re.compile(r"ROUND|\bADJ")
# Amounts added on top of the subtotal ("GST 6%  1.26", "SERVICE CHARGE 10%  2.50"), unless
# the line says they are already included ("GST @6% INCLUDED IN TOTAL").
_ADDED_TAX: Final = re.compile(r"\bGST\b|\bTAX\b|\bSST\b|\bVAT\b|SERVICE|\bSVC\b")
_INCLUDED: Final = re.compile(r"INCL")
# A rounding adjustment without its "0.": at most 4 sen either way.
_BARE_SEN: Final = re.compile(r"(?<![\d.,])[.,]?(?P<sen>0[1-4])(?![\d.,])")
_TAX_OR_DISCOUNT: Final = re.compile(r"\bGST\b|\bTAX\b|\bSST\b|\bVAT\b|DISC|SERVICE|SVC|SAVING")

# Column headings ("QTY  PRICE  TOTAL (RM)  TAX"); the line below is an item, not a total.
_TABLE_HEADER: Final = re.compile(
    r"(QTY|PRICE|\bTAX\b|DESC|\bITEM|DISC|\bUNIT|AMOUNT|\bAMT\b|TOTAL).*"
    r"(QTY|PRICE|\bTAX\b|DESC|\bITEM|DISC|\bUNIT|AMOUNT|\bAMT\b|TOTAL)"
)
# Cash totals are rounded to 5 sen when a rounding adjustment is printed.
_CASH_ROUNDING_STEP: Final = Decimal("0.05")
_MAX_ROUNDING: Final = Decimal("0.05")
_TAX_SUMMARY: Final = re.compile(r"(TAX|GST|SST)\s*(SUMMARY|ANALYSIS|CODE)|SUMMARY")
_FUZZY_WORD_RATIO: Final = 0.75
# Below the second-look threshold (_DOUBTFUL_TOTAL_CONFIDENCE): read the receipt again.
_CONTRADICTED_TOTAL_CONFIDENCE: Final = 0.2

_FINAL_SCORE: Final = 5.0
_PAID_SCORE: Final = 2.5
_PLAIN_SCORE: Final = 3.5
_PRE_TAX_SCORE: Final = 1.5
# The line index of a total worked out from the cash and change rather than printed.
_PAYMENT_ARITHMETIC: Final = -1


@dataclass(frozen=True)
class _TotalCandidate:
    value: Decimal
    score: float
    line_index: int


@dataclass
class _PrintedAmounts:
    """The amounts of a receipt, sorted by what their labels say they are."""

    candidates: list[_TotalCandidate] = field(default_factory=list)
    cash: list[Decimal] = field(default_factory=list)
    change: list[Decimal] = field(default_factory=list)
    roundings: list[Decimal] = field(default_factory=list)
    unlabelled: list[Decimal] = field(default_factory=list)
    # Above the tax summary: subtotals, final totals and the taxes added to the subtotal.
    subtotals: list[Decimal] = field(default_factory=list)
    final_totals: list[Decimal] = field(default_factory=list)
    taxes: set[Decimal] = field(default_factory=set)


def _find_total(lines: list[_Line]) -> tuple[Decimal | None, float]:
    printed = _read_amounts(lines)
    candidates = printed.candidates
    candidates.extend(_rounded_candidates(candidates, printed.roundings))
    candidates.extend(_restored_candidates(candidates, printed))
    cash, roundings, subtotals = printed.cash, printed.roundings, printed.subtotals
    # What was handed over minus the change is what was due.
    paid = {c - ch for c in cash for ch in printed.change if c > ch}
    labelled = any(c.score >= _PLAIN_SCORE for c in candidates)
    if len(paid) == 1 and not labelled and not any(c.value in paid for c in candidates):
        # No readable total line: fall back on the payment arithmetic.
        candidates.append(
            _TotalCandidate(
                value=next(iter(paid)), score=_PAID_SCORE, line_index=_PAYMENT_ARITHMETIC
            )
        )
    if not candidates:
        return _fallback_total(printed.unlabelled, cash)
    best: _TotalCandidate | None = None
    best_score = -1.0
    for candidate in candidates:
        score = candidate.score
        if candidate.value in paid:
            # Exact arithmetic: outweighs a weaker label (SUBTOTAL against a misread TOTAL).
            score += 2.5
        elif candidate.value in cash:
            score += 1.0
        if any(roundings) and candidate.value % _CASH_ROUNDING_STEP == 0:
            score += 1.0  # a rounding line means the amount due was rounded to 5 sen
        repeats = len({c.line_index for c in candidates if c.value == candidate.value}) - 1
        score += min(repeats, 2) * 0.5
        if candidate.value == 0:
            score -= 3.0
        if _far_below_subtotal(candidate.value, subtotals):
            score -= 3.0
        # Later lines win ties: the final amount comes after subtotals and adjustments.
        score += candidate.line_index * 0.001
        if score > best_score:
            best, best_score = candidate, score
    assert best is not None
    confidence = min(1.0, max(0.1, best_score / 8.0))
    if _total_contradicted(best, printed, paid):
        confidence = min(confidence, _CONTRADICTED_TOTAL_CONFIDENCE)
    return best.value, confidence


def _read_amounts(lines: list[_Line]) -> _PrintedAmounts:
    printed = _PrintedAmounts()
    in_tax_summary = False
    for position, line in enumerate(lines):
        amounts = _amounts(line.text)
        label = _total_words_fixed(line.upper[: amounts[0].start] if amounts else line.upper)
        if _TAX_SUMMARY.search(label):
            # The tax breakdown printed under the total repeats "TOTAL" with other amounts.
            in_tax_summary = True
        is_total = "TOTAL" in label
        is_rounding = bool(_ROUNDING.search(label)) and not is_total
        if not amounts and is_rounding:
            amounts = _sen_without_point(line.text)
        value_line = line
        if not amounts and not _TABLE_HEADER.search(label):
            value_line = lines[position + 1] if position + 1 < len(lines) else line
            amounts = _amounts_on_next_line(lines, position)
        if not amounts:
            continue
        value = amounts[-1].value
        if _CHANGE.search(label) and not is_total:
            printed.change.append(value)
        elif _PAYMENT.search(label) and not is_total:
            printed.cash.append(value)
        elif is_rounding:
            printed.roundings.append(value)
        else:
            score = _total_label_score(label)
            above_summary = not in_tax_summary
            if score <= 0:
                printed.unlabelled.extend(amount.value for amount in amounts)
                if above_summary and _ADDED_TAX.search(label) and not _INCLUDED.search(label):
                    printed.taxes.add(value)
                continue
            negative = _printed_negative(value_line, amounts[-1])
            if above_summary and score == _PRE_TAX_SCORE and not negative:
                printed.subtotals.append(value)
            if above_summary and score == _FINAL_SCORE:
                printed.final_totals.append(value)
            if len(amounts) > 1:
                score -= 0.5  # a table row (quantity, price, tax...) rather than a labelled total
            if value_line is not line:
                score -= 0.5
            if in_tax_summary:
                score -= 2.0
            printed.candidates.append(
                _TotalCandidate(value=value, score=score, line_index=position)
            )
    return printed


def _restored_candidates(
    candidates: list[_TotalCandidate], printed: _PrintedAmounts
) -> list[_TotalCandidate]:
    """Subtotal + taxes (± rounding) where a printed total is its tail: "7.55" for 27.55.

    Faint print often loses the leading digits of the total; the lines above it still add up.
    """
    if not printed.subtotals:
        return []
    expected = max(printed.subtotals) + sum(printed.taxes, Decimal(0))
    adjustments = [Decimal(0)] + [r for r in printed.roundings if 0 < r < _MAX_ROUNDING]
    sums = {expected + a for a in adjustments} | {expected - a for a in adjustments}
    return [
        _TotalCandidate(value=value, score=candidate.score, line_index=candidate.line_index)
        for candidate in candidates
        for value in sums
        if value > candidate.value and _digits(value).endswith(_digits(candidate.value))
    ]


def _digits(value: Decimal) -> str:
    return str(value).replace(".", "")


def _sen_without_point(text: str) -> list[_Amount]:
    """A rounding adjustment printed or read without its "0." ("-.02", "RM 02")."""
    match = _BARE_SEN.search(text)
    if match is None:
        return []
    return [_Amount(value=Decimal(f"0.{match.group('sen')}"), start=match.start())]


def _printed_negative(line: _Line, amount: _Amount) -> bool:
    return line.text[: amount.start].rstrip().endswith("-")


def _far_below_subtotal(value: Decimal, subtotals: list[Decimal]) -> bool:
    """Discounts rarely take half of the subtotal; a lost leading digit often does."""
    if not subtotals:
        return False
    return value < max(subtotals) / 2


def _total_contradicted(
    best: _TotalCandidate, printed: _PrintedAmounts, paid: set[Decimal]
) -> bool:
    """Whether other printed amounts disagree with the chosen total, which is then worth a
    closer look: a lost or misread digit in the total usually shows in the arithmetic."""
    subtotals = printed.subtotals
    if best.score < _PLAIN_SCORE - 0.5 and best.value not in paid:
        return True  # only a subtotal was readable
    if _far_below_subtotal(best.value, subtotals):
        return True
    if best.line_index == _PAYMENT_ARITHMETIC and any(best.value > 2 * s for s in subtotals):
        return True  # a misread cash amount: taxes do not double the subtotal
    if printed.cash and not paid and best.value > max(printed.cash):
        return True  # less was paid than the total
    # Two final totals (TOTAL INCL. GST, AMOUNT PAYABLE) that differ by more than rounding.
    return any(abs(v - best.value) > _MAX_ROUNDING for v in printed.final_totals)


def _rounded_candidates(
    candidates: list[_TotalCandidate], roundings: list[Decimal]
) -> list[_TotalCandidate]:
    """Totals after a printed rounding adjustment, whose sign OCR often loses."""
    derived = []
    for candidate in candidates:
        for rounding in roundings:
            if rounding == 0 or rounding >= _MAX_ROUNDING:
                continue
            for value in (candidate.value + rounding, candidate.value - rounding):
                if value > 0 and value % _CASH_ROUNDING_STEP == 0:
                    derived.append(
                        _TotalCandidate(
                            value=value,
                            score=candidate.score - 0.5,
                            line_index=candidate.line_index,
                        )
                    )
    return derived


def _total_words_fixed(label: str) -> str:
    """Spell OCR-damaged forms of TOTAL (TOTA1, TOTAI, OTAL, T0TAL, TATAL) correctly."""
    return _fix_misread_words(label, ("TOTAL",), min_length=4)


def _fix_misread_words(text: str, vocabulary: tuple[str, ...], min_length: int) -> str:
    """Replace words that are one or two OCR slips away from a vocabulary word."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        if len(word) < min_length or word in vocabulary:
            return word
        for known in vocabulary:
            close_length = abs(len(known) - len(word)) <= 2
            if close_length and SequenceMatcher(None, word, known).ratio() >= _FUZZY_WORD_RATIO:
                return known
        return word

    return re.sub(r"[A-Z0-9]+", fix, text)


def _amounts_on_next_line(lines: list[_Line], position: int) -> list[_Amount]:
    """A label whose value was read as a separate line just below it."""
    if position + 1 >= len(lines):
        return []
    following = lines[position + 1]
    amounts = _amounts(following.text)
    letters = sum(ch.isalpha() for ch in following.text)
    return amounts if amounts and letters <= 3 else []


def _total_label_score(label: str) -> float:
    if _NOT_TOTAL.search(label) or _TAX_FIRST.match(label):
        return 0.0
    if _FINAL_TOTAL.search(label):
        return _FINAL_SCORE
    if _PRE_TAX_TOTAL.search(label):
        return _PRE_TAX_SCORE
    if _PLAIN_TOTAL.search(label):
        return 0.0 if _TAX_OR_DISCOUNT.search(label) else _PLAIN_SCORE
    return 0.0


def _fallback_total(values: list[Decimal], cash: list[Decimal]) -> tuple[Decimal | None, float]:
    """No labelled total: the amount printed most often, then the largest below the cash."""
    if not values:
        return None, 0.0
    limit = max(cash) if cash else None
    usable = [v for v in values if v > 0 and (limit is None or v <= limit)] or values
    best = max(usable, key=lambda v: (usable.count(v), v))
    return best, 0.2


# --- date --------------------------------------------------------------------------------

_MONTHS: Final = {
    "JAN": 1,
    "FEB": 2,
    "MAR": 3,
    "APR": 4,
    "MAY": 5,
    "JUN": 6,
    "JUL": 7,
    "AUG": 8,
    "SEP": 9,
    "OCT": 10,
    "NOV": 11,
    "DEC": 12,
}
_MONTH_NAME: Final = r"(?P<mon>JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?"
_SEP: Final = r"\s?[/\-.]\s?"
# (pattern, how much a match is worth before context is considered), most reliable first.
_DATE_PATTERNS: Final = (
    # 2018-01-25, 2018/01/25
    (
        re.compile(
            r"(?<!\d)(?P<y>(?:19|20)\d{2})(?P<s>[/\-.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?!\d)"
        ),
        2.0,
    ),
    # 25/01/2018, 25-01-18, 25.01.2018 (day first; month first only when day-first is invalid)
    (
        re.compile(
            rf"(?<!\d)(?P<d>\d{{1,2}}){_SEP}(?P<m>\d{{1,2}}){_SEP}(?P<y>\d{{4}}|\d{{2}})"
            rf"(?!\d|{_SEP}\d)"
        ),
        1.8,
    ),
    # The 0 of a four-digit year read as a symbol or letter: "06-05-2)18".
    (
        re.compile(
            rf"(?<!\d)(?P<d>\d{{1,2}}){_SEP}(?P<m>\d{{1,2}}){_SEP}(?P<y>2[^\d\s]\d{{2}})(?!\d)"
        ),
        0.8,
    ),
    # 25 Jan 2018, 25-JAN-18, 25JAN2018
    (
        re.compile(
            rf"(?<!\d)(?P<d>\d{{1,2}})[\s/\-.]?{_MONTH_NAME}[\s/\-.,]{{0,2}}"
            rf"(?P<y>\d{{4}}|\d{{2}})(?!\d)"
        ),
        1.6,
    ),
    # Jan 25, 2018
    (re.compile(rf"\b{_MONTH_NAME}\s?(?P<d>\d{{1,2}}),?\s?(?P<y>\d{{4}})(?!\d)"), 1.4),
    # 20180125
    (
        re.compile(r"(?<!\d)(?P<y>20\d{2})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"),
        1.2,
    ),
    # Thin slashes read as 1 or 7: "1770472018" for 17/04/2018.
    (
        re.compile(r"(?<!\d)(?P<d>[0-3]\d)[17](?P<m>[01]\d)[17](?P<y>20\d{2})(?!\d)"),
        0.5,
    ),
    # A separator lost or read as a space: "2605/2018", "24 11-17".
    (re.compile(r"(?<!\d)(?P<d>\d{2})(?P<m>\d{2})[/\-.](?P<y>\d{4})(?!\d)"), 0.5),
    (
        re.compile(r"(?<!\d)(?P<d>\d{1,2})\s(?P<m>\d{1,2})[/\-](?P<y>\d{4}|\d{2})(?![\d:])"),
        0.5,
    ),
)
_DATE_LABEL: Final = re.compile(r"DATE|\bDT\b|TARIKH")
# 13:05, and 13.05.22 (three dotted parts: an amount has only two).
_TIME: Final = re.compile(r"(?<!\d)\d{1,2}\s?:\s?\d{2}|(?<![\d.])\d{1,2}\.\d{2}\.\d{2}(?![\d.])")
_NOT_PURCHASE_DATE: Final = re.compile(r"EXP|VALID|BEST\s*BEFORE|DUE|BIRTH|SINCE|EST\.?\s")
_EARLIEST_YEAR: Final = 2000
_LATEST_YEAR: Final = 2039


def _find_date(lines: list[_Line]) -> tuple[datetime.date | None, float]:
    best: datetime.date | None = None
    best_score = -1.0
    for line in lines:
        text = _digits_fixed(line.text).upper()
        labelled = bool(_DATE_LABEL.search(_fix_misread_words(line.upper, ("DATE",), 4)))
        for pattern, worth in _DATE_PATTERNS:
            for match in _overlapping_matches(pattern, text):
                found = _date_from_match(match)
                if found is None:
                    continue
                date, certain = found
                score = worth + (0.0 if certain else -1.0)
                if labelled:
                    score += 2.0
                if _TIME.search(text[match.end() :]) or _TIME.search(text[: match.start()]):
                    score += 1.0
                if _NOT_PURCHASE_DATE.search(line.upper):
                    score -= 3.0
                # Earlier lines win ties: the sale date is printed in the header.
                score -= line.index * 0.001
                if score > best_score:
                    best, best_score = date, score
    if best is None:
        return None, 0.0
    return best, min(1.0, max(0.2, best_score / 5.0))


def _overlapping_matches(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """All matches, including ones that start inside an earlier (possibly invalid) match."""
    matches = []
    position = 0
    while (match := pattern.search(text, position)) is not None:
        matches.append(match)
        position = match.start() + 1
    return matches


# Leading digits OCR makes out of a faint 0 or a thin 1 in small print ("05/61/2018" for
# 05/01/2018, "45/05/2017" for 15/05/2017).
_MISREAD_ZERO: Final = "689"
_MISREAD_LEADING_DIGIT: Final = {"6": "0", "8": "0", "9": "0", "4": "1", "7": "1"}


def _date_from_match(match: re.Match[str]) -> tuple[datetime.date, bool] | None:
    """The date a match stands for, and whether it was read without guessing."""
    groups = match.groupdict()
    year, year_certain = _full_year(groups["y"])
    day = int(groups["d"])
    month = _MONTHS[groups["mon"][:3]] if groups.get("mon") else int(groups["m"])
    if year is None:
        return None
    date = _valid_date(year, month, day)
    if date is not None:
        return date, year_certain
    if groups.get("mon"):
        repaired = _valid_date(year, month, _digit_repaired(groups["d"], 31))
    else:
        swapped = _valid_date(year, day, month)  # month-first (US) layout
        if swapped is not None:
            return swapped, False
        repaired = _valid_date(
            year, _digit_repaired(groups["m"], 12), _digit_repaired(groups["d"], 31)
        )
    return (repaired, False) if repaired is not None else None


def _digit_repaired(text: str, highest: int) -> int:
    """A two-digit day or month above `highest`, with its first digit read again."""
    if len(text) == 2 and int(text) > highest and text[0] in _MISREAD_LEADING_DIGIT:
        return int(_MISREAD_LEADING_DIGIT[text[0]] + text[1])
    return int(text)


def _full_year(text: str) -> tuple[int | None, bool]:
    if not text.isdigit():
        # "2)18": the second digit of 20xx, misread as a symbol.
        year, _ = _full_year("20" + text[2:])
        return year, False
    year = int(text)
    if len(text) == 2:
        year += 2000
    if _EARLIEST_YEAR <= year <= _LATEST_YEAR:
        return year, True
    if len(text) == 4 and text.startswith("207"):
        # A thin "1" in small print is often read as "7" (2018 as 2078).
        guess = int("201" + text[3])
        if _EARLIEST_YEAR <= guess <= _LATEST_YEAR:
            return guess, False
    if len(text) == 4 and text[0] == "2" and text[1] in _MISREAD_ZERO:
        # A faint "0" read as "6", "8" or "9" (2018 as 2618).
        guess = int("20" + text[2:])
        if _EARLIEST_YEAR <= guess <= _LATEST_YEAR:
            return guess, False
    return None, False


def _valid_date(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


# --- merchant ----------------------------------------------------------------------------

_MERCHANT_SEARCH_LINES: Final = 12
_MIN_MERCHANT_SCORE: Final = -0.5
# Legal forms that end a registered company name; anything printed after them on the same
# line (a branch, a registration number) is not part of the name.
_LEGAL_FORM_END: Final = re.compile(
    r"\bSDN\.?\s*BHD\b\.?|\bBHD\b\.?|\bS/B\b|\bSB\b|\bLTD\b\.?|\bLIMITED\b|\bINC\b\.?"
    r"|\bLLC\b|\bPLC\b|\bGMBH\b|\bPTE\b\.?"
)
_COMPANY_END: Final = re.compile(r"\bCO\b\.?(?=\s|$)")
_LEGAL_SUFFIX: Final = re.compile(
    rf"{_LEGAL_FORM_END.pattern}|\bSDN\b|{_COMPANY_END.pattern}|\bCORP"
)
_BUSINESS_WORDS: Final = (
    "ENTERPRISE",
    "ENTERPRISES",
    "TRADING",
    "RESTAURANT",
    "RESTAURANTS",
    "RESTORAN",
    "HARDWARE",
    "BAKERY",
    "BAKERIES",
    "MARKET",
    "SUPERMARKET",
    "MINIMARKET",
    "PERNIAGAAN",
    "SYARIKAT",
    "STATIONERY",
    "COMPANY",
    "PHARMACY",
    "FARMASI",
    "HOLDINGS",
    "INTERNATIONAL",
    "KITCHEN",
    "GROCER",
    "BOUTIQUE",
    "PASARAYA",
    "ELECTRICAL",
    "BOOKSTORE",
    "BOOKSTORES",
    "TRADERS",
    "CONFECTIONERY",
    "MARKETING",
    "INDUSTRIES",
    "SERVICES",
    "CORPORATION",
)
_BUSINESS_WORD: Final = re.compile(
    r"\b(" + "|".join(_BUSINESS_WORDS) + r")\b|\bSTORES?\b|\bMART\b|\bCAFE\b|KEDAI|\bBOOKS?\b"
    r"|\bFOOD|\bSHOP\b|\bHOTEL\b|\bMOTOR\b|\bAUTO\b|\bGROUP\b|\bOUTLET\b"
)
# "SON BHD", "SDN BH0", "5DN BHO": the Malaysian private-company suffix as OCR often reads it.
_SDN_BHD: Final = re.compile(r"\b[S5][DO0]N[.,]?\s*B[HN][DO0]\b")
_ADDRESS: Final = re.compile(
    r"\bJALAN\b|\bJLN\b|\bLOT\b|\bNO\s*[.:,]|\bTAMAN\b|\bTMN\b|\bLORONG\b|\bROAD\b|\bSTREET\b"
    r"|\bFLOOR\b|\bBLOCK\b|\bBLK\b|\bLEVEL\b|\bUNIT\b|\bPLAZA\b|\bKAWASAN\b|\bBANDAR\b"
    r"|\bPERSIARAN\b|\bSELANGOR\b|\bJOHOR\b|\bKUALA\b|(?<!\d)\d{5}(?!\d)"
)
_NOT_MERCHANT: Final = re.compile(
    r"INVOICE|RECEIPT|\bBILL\b|WELCOME|THANK|\bTEL\b|\bFAX\b|PHONE|\bGST\b|\bREG\b|\bSST\b"
    r"|\bTAX\b|CASHIER|\bTABLE\b|\bDATE\b|\bTIME\b|E-?MAIL|WWW|HTTP|\.COM|FORMERLY|MEMBER"
    r"|\bORDER\b|\bCHECK\b|\bCOPY\b|LICENSEE|TOTAL|\bQTY\b|QUANTITY|\bCASH\b|CHANGE"
    r"|\bAMOUNT\b|\bITEMS?\b"
)
# Words that begin the second line of a wrapped company name.
_CONTINUATION_WORD: Final = re.compile(
    r"SDN\.?|BHD\.?|S/B|CO\.?|COMPANY|ENTERPRISES?|TRADING|LTD\.?|LIMITED|INC\.?|&|AND"
    r"|\(M\)|\(MALAYSIA\)|CORP\w*|\(.*"
)
# "(123456-X)" company registration numbers printed next to the name.
_REGISTRATION: Final = re.compile(
    r"[(\[{]?\s*(CO\.?\s*)?(REG\w*\.?\s*(NO)?\.?\s*:?\s*)?\d[\d\s]{3,}-?\s?[A-Z]?\s*[)\]}]?"
)
# A registration number read with letters for digits: "(S19S37-X)", "BOZTZO-U".
_TRAILING_REGISTRATION: Final = re.compile(r"[(\[{]?\s*[\w/&]{4,}\s?-\s?[A-Z]\s*[)\]}]?\s*$")


def _find_merchant(lines: list[_Line]) -> tuple[str | None, float]:
    best: _Line | None = None
    best_score = _MIN_MERCHANT_SCORE
    address_seen = False
    for line in lines[:_MERCHANT_SEARCH_LINES]:
        score = _merchant_score(line)
        if address_seen:
            score -= 2.0  # the name is printed above the address
        if score > best_score:
            best, best_score = line, score
        address_seen = address_seen or bool(_ADDRESS.search(line.upper))
    if best is None:
        return None, 0.0
    name = _clean_merchant(best.upper)
    # Long names wrap: "POPULAR BOOK" / "CO. (M) SDN BHD", "AIK HUAT HARDWARE" / "ENTERPRISE".
    previous = lines[best.index - 1] if best.index > 0 else None
    following = lines[best.index + 1] if best.index + 1 < len(lines) else None
    if previous is not None and _continues_previous_line(name) and _is_name_like(previous):
        name = f"{_clean_merchant(previous.upper)} {name}"
    elif (
        following is not None
        and not _LEGAL_FORM_END.search(name)
        and _continues_previous_line(_clean_merchant(following.upper))
        and _is_name_like(following)
    ):
        name = f"{name} {_clean_merchant(following.upper)}"
    name = _cut_after_legal_form(name)
    if not name:
        return None, 0.0
    confidence = min(1.0, best_score / 6.0) * (0.5 + 0.5 * best.ocr_confidence)
    return name, max(0.1, confidence)


def _continues_previous_line(name: str) -> bool:
    first_word = name.split(" ", 1)[0] if name else ""
    letters = sum(ch.isalpha() for ch in name)
    return letters < 10 or bool(_CONTINUATION_WORD.fullmatch(first_word))


def _is_name_like(line: _Line) -> bool:
    letters = [ch for ch in line.text if ch.isalpha()]
    if len(letters) < 3 or any(ch.isdigit() for ch in line.text):
        return False
    if _NOT_MERCHANT.search(line.upper) or _ADDRESS.search(line.upper):
        return False
    words = [word for word in line.text.split() if word[:1].isalpha()]
    capitalised = all(word[0].isupper() for word in words)
    return capitalised or sum(ch.isupper() for ch in letters) / len(letters) >= 0.7


def _merchant_score(line: _Line) -> float:
    text = _merchant_words_fixed(line.upper)
    letters = [ch for ch in line.text if ch.isalpha()]
    if len(letters) < 3 or _NOT_MERCHANT.search(text):
        return 0.0
    score = 1.0
    if _LEGAL_SUFFIX.search(text):
        score += 3.0
    if _BUSINESS_WORD.search(text):
        score += 2.0
    if _ADDRESS.search(text):
        score -= 3.0
    digits = sum(ch.isdigit() for ch in _REGISTRATION.sub("", text))
    score -= min(digits, 4) * 0.25
    upper_ratio = sum(ch.isupper() for ch in letters) / len(letters)
    score += upper_ratio * 1.5 - 0.5
    if upper_ratio == 0:
        score -= 1.5  # names are printed in capitals or title case, never all lower case
    symbols = sum(1 for ch in line.text if not (ch.isalnum() or ch.isspace() or ch in "&.'()-,/"))
    score -= min(symbols, 3) * 0.5
    if len(letters) / max(1, len(line.text.replace(" ", ""))) < 0.6:
        score -= 1.0
    score += (line.ocr_confidence - _DEFAULT_OCR_CONFIDENCE) * 2.0
    score -= line.index * 0.15
    return score


def _merchant_words_fixed(upper: str) -> str:
    fixed = _SDN_BHD.sub("SDN BHD", upper)
    return _fix_misread_words(fixed, _BUSINESS_WORDS, min_length=6)


def _clean_merchant(upper: str) -> str:
    name = _REGISTRATION.sub(" ", _merchant_words_fixed(upper))
    name = _TRAILING_REGISTRATION.sub(" ", name)
    name = re.sub(r"\(\s*\)", " ", name)
    name = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", name))
    name = name.strip(" .,:;-*~'\"|_")
    return " ".join(name.split())


def _cut_after_legal_form(name: str) -> str:
    """Drop what follows the company's legal form ("... SDN BHD (KLCC BRANCH)" -> "... SDN BHD")."""
    ends = list(_LEGAL_FORM_END.finditer(name)) or list(_COMPANY_END.finditer(name))
    if not ends:
        return name
    return name[: ends[0].end()].strip()


def merchant_matches(found: str | None, expected: str, threshold: float = 0.8) -> bool:
    """How the benchmark and tests compare merchant names: case- and spacing-insensitive."""
    if found is None:
        return False
    a = " ".join(found.lower().split())
    b = " ".join(expected.lower().split())
    return SequenceMatcher(None, a, b).ratio() >= threshold


# --- currency ----------------------------------------------------------------------------

# Currency symbols count only next to an amount: on a scan a lone "£" or "€" is usually noise.
_AMOUNT_AFTER: Final = r"\s?\d+[.,]\s?\d{2}"
_CURRENCY_MARKERS: Final = (
    # RM is often read as RH or RN in front of an amount.
    (re.compile(rf"\bRM(\b|(?=\d))|\bMYR\b|\(RM\)|RINGGIT|\bR[HN]{_AMOUNT_AFTER}"), "MYR"),
    (re.compile(rf"S\${_AMOUNT_AFTER}|\bSGD\b"), "SGD"),
    (re.compile(rf"US\${_AMOUNT_AFTER}|\bUSD\b"), "USD"),
    (re.compile(rf"€{_AMOUNT_AFTER}|\bEUR\b"), "EUR"),
    (re.compile(rf"£{_AMOUNT_AFTER}|\bGBP\b"), "GBP"),
    (re.compile(rf"\bIDR\b|\bRP{_AMOUNT_AFTER}"), "IDR"),
    (re.compile(rf"\bTHB\b|฿{_AMOUNT_AFTER}"), "THB"),
)


def _find_currency(lines: list[_Line]) -> tuple[str | None, float]:
    counts: dict[str, int] = {}
    for line in lines:
        for pattern, code in _CURRENCY_MARKERS:
            counts[code] = counts.get(code, 0) + len(pattern.findall(line.upper))
    seen = {code: n for code, n in counts.items() if n > 0}
    if not seen:
        return None, 0.0
    code = max(seen, key=lambda c: seen[c])
    return code, min(1.0, 0.5 + 0.15 * seen[code])
