"""Which Tesseract readings read_receipt asks for, and what it keeps from each.

The reader here hands back prepared text per (enlarge, faint_print) variant, so the strategy
is tested without images.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from expense_wise.domain.receipts.extraction import SECOND_LOOK_ENLARGE, read_receipt
from expense_wise.domain.receipts.ocr import OcrResult, OcrWord

PLAIN = (1.0, False)
FAINT = (1.0, True)
CLOSER = (SECOND_LOOK_ENLARGE, False)
CLOSER_FAINT = (SECOND_LOOK_ENLARGE, True)
# Enough legible words that a reading does not count as empty.
FILLER = "\n".join(["THANK YOU PLEASE COME AGAIN"] * 3)


def reading(text: str) -> OcrResult:
    words = [
        OcrWord(
            text=token,
            confidence=95.0,
            block=1,
            paragraph=1,
            line=number,
            left=0,
            top=0,
            width=10,
            height=10,
        )
        for number, line in enumerate(text.splitlines(), start=1)
        for token in line.split()
    ]
    return OcrResult(text=text, words=words, image_width=100, image_height=100)


class FakeReader:
    def __init__(self, texts: dict[tuple[float, bool], str]) -> None:
        self.texts = texts
        self.asked: list[tuple[float, bool]] = []

    def __call__(self, enlarge: float, faint_print: bool) -> OcrResult:
        self.asked.append((enlarge, faint_print))
        return reading(self.texts.get((enlarge, faint_print), ""))


def test_a_complete_first_reading_is_the_only_one() -> None:
    reader = FakeReader({PLAIN: f"GOOD SHOP\nDate: 25/12/2018 10:00\nTOTAL 9.00\n{FILLER}"})

    fields, readings = read_receipt(reader)

    assert reader.asked == [PLAIN]
    assert readings == 1
    assert fields.date == datetime.date(2018, 12, 25)
    assert fields.total == Decimal("9.00")


def test_a_missing_date_gets_a_closer_look() -> None:
    reader = FakeReader(
        {
            PLAIN: f"GOOD SHOP\nDate: ??/1?/2O1?\nTOTAL 9.00\n{FILLER}",
            CLOSER: f"GOOD SHOP\nDate: 25/12/2018 10:00\nTOTAL 8.00\n{FILLER}",
        }
    )

    fields, readings = read_receipt(reader)

    assert reader.asked == [PLAIN, CLOSER]
    assert readings == 2
    assert fields.date == datetime.date(2018, 12, 25)
    assert fields.total == Decimal("9.00")  # not doubtful, so kept from the first reading


def test_an_empty_reading_is_replaced_by_the_faint_print_one() -> None:
    reader = FakeReader({FAINT: f"FAINT SHOP\nDate: 01/02/2019 10:00\nTOTAL 4.20\n{FILLER}"})

    fields, readings = read_receipt(reader)

    assert reader.asked == [PLAIN, FAINT]
    assert readings == 2
    assert fields.total == Decimal("4.20")


def test_a_date_no_reading_shows_sends_for_the_remaining_preparations() -> None:
    reader = FakeReader(
        {
            PLAIN: f"GOOD SHOP\nDate: ??\nTOTAL 9.00\n{FILLER}",
            CLOSER: f"GOOD SHOP\nDate: ??\nTOTAL 9.00\n{FILLER}",
            FAINT: f"GOOD SHOP\nDate: ??\n{FILLER}",
            CLOSER_FAINT: f"GOOD SHOP\nDate: 03/06/2017 17:02\n{FILLER}",
        }
    )

    fields, readings = read_receipt(reader)

    assert reader.asked == [PLAIN, CLOSER, FAINT, CLOSER_FAINT]
    assert readings == 4
    assert fields.date == datetime.date(2017, 6, 3)
    assert fields.total == Decimal("9.00")


def test_the_last_resort_stops_once_nothing_is_missing() -> None:
    reader = FakeReader(
        {
            PLAIN: f"GOOD SHOP\nTOTAL 9.00\n{FILLER}",
            FAINT: f"GOOD SHOP\nDate: 03/06/2017 17:02\n{FILLER}",
        }
    )

    fields, _ = read_receipt(reader)

    assert reader.asked == [PLAIN, CLOSER, FAINT]
    assert fields.date == datetime.date(2017, 6, 3)


def test_smaller_and_larger_scales_come_last() -> None:
    smaller, larger = (0.75, False), (2.0, True)
    reader = FakeReader(
        {
            PLAIN: f"GOOD SHOP\nTOTAL 9.00\n{FILLER}",
            larger: f"GOOD SHOP\nDate: 03/06/2017 17:02\n{FILLER}",
        }
    )

    fields, readings = read_receipt(reader)

    assert reader.asked == [PLAIN, CLOSER, FAINT, CLOSER_FAINT, smaller, larger]
    assert readings == 6
    assert fields.date == datetime.date(2017, 6, 3)


def test_a_receipt_without_a_date_costs_at_most_six_readings() -> None:
    reader = FakeReader({PLAIN: f"GOOD SHOP\nTOTAL 9.00\n{FILLER}"})

    fields, readings = read_receipt(reader)

    assert fields.date is None
    assert readings == len(reader.asked) == 6
