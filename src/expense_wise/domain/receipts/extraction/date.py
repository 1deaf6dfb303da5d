"""The purchase date: printed once, usually next to the time, in many formats."""

from __future__ import annotations

import datetime
import re
from typing import Final

from expense_wise.domain.receipts.extraction.text import Line, digits_fixed, fix_misread_words

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
    # A date glued to the time printed after it: "10-03-201823:03:06", "2018-03-1023:03".
    (
        re.compile(
            rf"(?<!\d)(?P<d>\d{{1,2}}){_SEP}(?P<m>\d{{1,2}}){_SEP}(?P<y>(?:19|20)\d{{2}})"
            rf"(?=[0-2]?\d:[0-5]\d)"
        ),
        1.6,
    ),
    (
        re.compile(
            r"(?<!\d)(?P<y>(?:19|20)\d{2})(?P<s>[/\-.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{2})"
            r"(?=[0-2]?\d:[0-5]\d)"
        ),
        1.6,
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


def find_date(lines: list[Line]) -> tuple[datetime.date | None, float]:
    best: datetime.date | None = None
    best_score = -1.0
    for line in lines:
        text = digits_fixed(line.text).upper()
        labelled = bool(_DATE_LABEL.search(fix_misread_words(line.upper, ("DATE",), 4)))
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
