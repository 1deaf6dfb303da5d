"""Receipt lines from an OCR reading, and the normalising every field rule relies on.

OCR mistakes that are common on thermal-paper scans (O for 0, S for 5, a comma for the
decimal point, stray spaces inside numbers) are undone here: digits inside words become
letters again, letters inside numbers become digits.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Final

from expense_wise.domain.receipts.extraction.layout import printed_rows
from expense_wise.domain.receipts.ocr import OcrResult


@dataclass(frozen=True)
class Line:
    index: int
    text: str
    upper: str  # upper-cased, with digits that stand in for letters inside words fixed
    ocr_confidence: float  # 0..1, mean word confidence of the line


DEFAULT_OCR_CONFIDENCE: Final = 0.8


def receipt_lines(ocr: OcrResult) -> list[Line]:
    """The receipt's printed rows (from the word boxes), or its text lines when a reading
    has no boxes."""
    if ocr.words:
        rows = [
            (" ".join(word.text for word in row), statistics.fmean(w.confidence for w in row))
            for row in printed_rows(ocr.words)
        ]
    else:
        rows = [(text, 100 * DEFAULT_OCR_CONFIDENCE) for text in ocr.text.splitlines()]
    texts = [(" ".join(text.split()), confidence / 100) for text, confidence in rows]
    return [
        Line(index=i, text=text, upper=letters_fixed(text.upper()), ocr_confidence=confidence)
        for i, (text, confidence) in enumerate((t, c) for t, c in texts if t)
    ]


_DIGIT_AS_LETTER: Final = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})


def letters_fixed(upper: str) -> str:
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
class Amount:
    value: Decimal
    start: int  # position in the line, to tell the label from the value


def digits_fixed(text: str) -> str:
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


def amounts_in(text: str) -> list[Amount]:
    fixed = digits_fixed(text)
    found = []
    for match in _AMOUNT.finditer(fixed):
        integer = match.group("int").replace(",", "")
        try:
            value = Decimal(f"{integer}.{match.group('dec')}")
        except InvalidOperation:
            continue
        found.append(Amount(value=value, start=match.start()))
    return found


_FUZZY_WORD_RATIO: Final = 0.75


def fix_misread_words(text: str, vocabulary: tuple[str, ...], min_length: int) -> str:
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
