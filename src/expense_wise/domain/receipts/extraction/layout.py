"""Printed rows from word boxes: what a reader sees as one line of the receipt.

Engines cut a row differently: RapidOCR detects the label and the amount at the far right
as two boxes, Tesseract sometimes splits a row into two lines or joins two. The field rules
need the label and its amount together, so rows are rebuilt from the boxes: words are
chained from left to right, each to the row whose last word it overlaps most vertically.
Chaining to the nearest word, rather than comparing with the row's first word, follows a
row that slopes on a skewed scan.
"""

from __future__ import annotations

import statistics
from typing import Final

from expense_wise.domain.receipts.ocr import OcrWord

# Two boxes are on one row when they share at least this part of the shorter one's height.
MIN_ROW_OVERLAP: Final = 0.4
# Boxes of neighbouring words may overlap a little; more than this is a different row.
MAX_HORIZONTAL_OVERLAP: Final = 0.5


def printed_rows(words: list[OcrWord]) -> list[list[OcrWord]]:
    """The words grouped into rows, top to bottom, each row left to right."""
    rows: list[list[OcrWord]] = []
    for word in sorted(words, key=lambda w: (w.left, w.top)):
        best: list[OcrWord] | None = None
        best_overlap = MIN_ROW_OVERLAP
        for row in rows:
            overlap = _row_overlap(row[-1], word)
            if overlap >= best_overlap:
                best, best_overlap = row, overlap
        if best is None:
            rows.append([word])
        else:
            best.append(word)
    rows.sort(key=lambda row: statistics.fmean(w.top + w.height / 2 for w in row))
    return rows


def _row_overlap(last: OcrWord, word: OcrWord) -> float:
    """How much `word` continues the row that ends with `last` (0 when it cannot)."""
    shorter = max(1, min(last.height, word.height))
    if last.left + last.width - word.left > MAX_HORIZONTAL_OVERLAP * shorter:
        return 0.0
    top = max(last.top, word.top)
    bottom = min(last.top + last.height, word.top + word.height)
    return max(0, bottom - top) / shorter
