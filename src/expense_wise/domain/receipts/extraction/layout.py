"""Printed rows from word boxes: what a reader sees as one line of the receipt.

Engines cut a row differently: RapidOCR detects the label and the amount at the far right
as two boxes, Tesseract sometimes splits a row into two lines or joins two. The field rules
need the label and its amount together, so rows are rebuilt from the boxes. A scan is
rarely straight: over the width of a receipt a tilt of 1.5 degrees lifts the amount by
half a line above its label. So the tilt is measured first, from the words each engine
already put on one line, and taken out of every box; then words are chained from left to
right, each to the row whose last word it overlaps most vertically.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from typing import Final

from expense_wise.domain.receipts.ocr import OcrWord

# Two boxes are on one row when they share at least this part of the shorter one's height.
MIN_ROW_OVERLAP: Final = 0.4
# Boxes of neighbouring words may overlap a little; more than this is a different row.
MAX_HORIZONTAL_OVERLAP: Final = 0.5


@dataclass(frozen=True)
class _Box:
    word: OcrWord
    top: float  # with the scan's tilt taken out
    bottom: float


def printed_rows(words: list[OcrWord]) -> list[list[OcrWord]]:
    """The words grouped into rows, top to bottom, each row left to right."""
    slope = _tilt(words)
    rows: list[list[_Box]] = []
    for word in sorted(words, key=lambda w: (w.left, w.top)):
        lift = slope * (word.left + word.width / 2)
        box = _Box(word, word.top - lift, word.top + word.height - lift)
        best: list[_Box] | None = None
        best_overlap = MIN_ROW_OVERLAP
        for row in rows:
            overlap = _row_overlap(row[-1], box)
            if overlap >= best_overlap:
                best, best_overlap = row, overlap
        if best is None:
            rows.append([box])
        else:
            best.append(box)
    rows.sort(key=lambda row: statistics.fmean(b.top + b.bottom for b in row))
    return [[box.word for box in row] for row in rows]


def _tilt(words: list[OcrWord]) -> float:
    """The median slope (dy/dx) between neighbouring words of the engine's own lines."""
    lines: dict[tuple[int, int, int], list[OcrWord]] = {}
    for word in words:
        lines.setdefault((word.block, word.paragraph, word.line), []).append(word)
    slopes = []
    for line in lines.values():
        line.sort(key=lambda w: w.left)
        for first, second in itertools.pairwise(line):
            run = (second.left + second.width / 2) - (first.left + first.width / 2)
            if run > max(first.height, second.height):
                rise = (second.top + second.height / 2) - (first.top + first.height / 2)
                slopes.append(rise / run)
    return statistics.median(slopes) if slopes else 0.0


def _row_overlap(last: _Box, box: _Box) -> float:
    """How much `box` continues the row that ends with `last` (0 when it cannot)."""
    shorter = max(1.0, min(last.bottom - last.top, box.bottom - box.top))
    if last.word.left + last.word.width - box.word.left > MAX_HORIZONTAL_OVERLAP * shorter:
        return 0.0
    return max(0.0, min(last.bottom, box.bottom) - max(last.top, box.top)) / shorter
