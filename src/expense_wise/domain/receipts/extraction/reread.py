"""A closer reading of the rows that matter, by the stronger engine.

Reading a whole receipt with RapidOCR costs about five Tesseract runs: a third of it finding
the text, two thirds recognising some fifty text boxes. Tesseract has already found the
text, and its boxes are good even where it misread the characters (`37,10`, `SON BHD`,
`19/03`). So a doubtful reading is not read again whole: RapidOCR recognises only the
pieces of the rows that hold the fields (the header rows for the merchant, rows with a date
shape, rows with an amount or a money word), and those pieces replace Tesseract's words.
A piece is a run of words on a row without a wide gap, as a detector would box it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from expense_wise.domain.receipts.extraction.layout import printed_rows
from expense_wise.domain.receipts.extraction.text import amounts_in
from expense_wise.domain.receipts.ocr import OcrResult, OcrWord, text_from_words

# (left, top, right, bottom) of a piece in the prepared image -> (text, confidence 0..1).
Recogniser = Callable[[list[tuple[int, int, int, int]]], list[tuple[str, float]]]

# The merchant is printed in the first rows, above the address.
HEADER_ROWS: Final = 6
# A gap wider than this many character heights separates two pieces of one row.
PIECE_GAP: Final = 1.5
# A piece's box may be this many times its tallest word's height before it is read word by
# word.
MAX_PIECE_HEIGHT: Final = 1.4
# Two separators between digits (an amount has one), a month's name, or a date label.
_DATE_SHAPE: Final = re.compile(
    r"\d\s?[/\-.]\s?\d{1,2}\s?[/\-.]\s?\d|\d\s?(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
    r"|DATE|TARIKH|\d{8}",
    re.I,
)
_TOTAL_WORD: Final = re.compile(r"TOTAL|TOTAI|TOTA1|AMOUNT|\bAMT\b|\bDUE\b|PAYABLE|NETT", re.I)
_MONEY_WORD: Final = re.compile(
    r"TOTAL|TOTAI|AMOUNT|AMT|DUE|PAY|CASH|CHANGE|ROUND|GST|TAX|NETT|BALANCE|TENDER", re.I
)


def pieces_to_reread(ocr: OcrResult) -> list[list[OcrWord]]:
    """The pieces of the rows that hold merchant, date and total: the header rows, rows
    with a date's shape, and from the first total-like row with an amount on (not a column
    heading), rows with an amount or a money word; every row with an amount when no
    total-like row was read."""
    rows = printed_rows(ocr.words)
    texts = [" ".join(word.text for word in row) for row in rows]
    totals = [
        i
        for i, text in enumerate(texts)
        if i >= HEADER_ROWS and _TOTAL_WORD.search(text) and amounts_in(text)
    ]
    money_from = totals[0] if totals else HEADER_ROWS
    pieces = []
    for index, (row, text) in enumerate(zip(rows, texts, strict=True)):
        money = index >= money_from and bool(amounts_in(text) or _MONEY_WORD.search(text))
        if index < HEADER_ROWS or money or _DATE_SHAPE.search(text):
            pieces.extend(_pieces(row))
    return pieces


def reread(ocr: OcrResult, recognise: Recogniser) -> OcrResult:
    """`ocr` with the wanted pieces read again by `recognise` (the stronger engine)."""
    pieces = pieces_to_reread(ocr)
    boxes = [box(piece) for piece in pieces]
    replaced = {id(word) for piece in pieces for word in piece}
    words = [word for word in ocr.words if id(word) not in replaced]
    for number, ((text, score), (left, top, right, bottom)) in enumerate(
        zip(recognise(boxes), boxes, strict=True)
    ):
        if text.strip():
            words.append(
                OcrWord(
                    text=" ".join(text.split()),
                    confidence=round(100 * score, 1),
                    block=0,  # a block of its own: the pieces' engine lines are their own
                    paragraph=0,
                    line=number,
                    left=left,
                    top=top,
                    width=right - left,
                    height=bottom - top,
                )
            )
    return OcrResult(
        text=text_from_words(words),
        words=words,
        image_width=ocr.image_width,
        image_height=ocr.image_height,
        engine="rapidocr",
    )


def _pieces(row: list[OcrWord]) -> list[list[OcrWord]]:
    pieces = [[row[0]]]
    for word in row[1:]:
        last = pieces[-1][-1]
        gap = word.left - (last.left + last.width)
        if gap > PIECE_GAP * max(last.height, word.height):
            pieces.append([word])
        else:
            pieces[-1].append(word)
    return [part for piece in pieces for part in _level(piece)]


def _level(piece: list[OcrWord]) -> list[list[OcrWord]]:
    """A piece whose words climb or fall (a tilted or warped row) as separate words: the
    recogniser reads one straight line of text, and a tall crop loses characters."""
    _, top, _, bottom = box(piece)
    tallest = max(word.height for word in piece)
    return [piece] if bottom - top <= MAX_PIECE_HEIGHT * tallest else [[w] for w in piece]


def box(piece: list[OcrWord]) -> tuple[int, int, int, int]:
    return (
        min(word.left for word in piece),
        min(word.top for word in piece),
        max(word.left + word.width for word in piece),
        max(word.top + word.height for word in piece),
    )
