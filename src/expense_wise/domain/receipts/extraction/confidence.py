"""Calibrated confidence: how often a field read with this evidence was right.

The rules' own scores rank readings, but a score of 0.8 does not mean right four times in
five. So each field's final confidence is looked up in a table fitted on receipts with
ground truth (`bench/ocr_accuracy.py --fit`, written to `calibration.json`): for the
field, the engines that read it (`tesseract`, `rapidocr`, `both` when they agreed,
`disputed` when they did not) and a band of the rules' score, the share of such readings
that were right, taken at a one-sided lower confidence bound (Wilson, z = CALIBRATION_Z), so
that a band seen only a few times cannot claim certainty. A field at REVIEW_CONFIDENCE or
above was right at least 97% of the time on held-out receipts; below it, the receipt is
flagged for review.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import msgspec

from expense_wise.domain.receipts.extraction.fields import REVIEWED_FIELDS, ExtractedFields

REVIEW_CONFIDENCE: Final = 0.9
# `auto` asks the stronger engine when a Tesseract field is less sure than this.
ESCALATION_CONFIDENCE: Final = 0.9
# Upper bounds of the bands of the rules' score.
SCORE_BANDS: Final = (0.3, 0.5, 0.7, 0.85, 1.0)
CALIBRATION_Z: Final = 1.64
TABLE_PATH: Final = Path(__file__).with_name("calibration.json")

# field -> source -> calibrated confidence per score band (SCORE_BANDS order).
CalibrationTable = dict[str, dict[str, list[float]]]


class Sample(msgspec.Struct, frozen=True):
    """One field of one receipt with ground truth: the evidence, and whether it was right."""

    field: str
    source: str
    score: float
    right: bool


@functools.cache
def default_table() -> CalibrationTable:
    """The table shipped with the code (empty if none was fitted yet)."""
    if not TABLE_PATH.exists():
        return {}
    return msgspec.json.decode(TABLE_PATH.read_bytes(), type=CalibrationTable)


def calibrated(fields: ExtractedFields, table: CalibrationTable | None = None) -> ExtractedFields:
    """The fields with calibrated confidences and the list of fields to review."""
    table = default_table() if table is None else table
    confidence = dict(fields.confidence)
    for name in REVIEWED_FIELDS:
        if getattr(fields, name) is None:
            confidence[name] = 0.0
        else:
            source = fields.sources.get(name, "")
            confidence[name] = likelihood(table, name, source, fields.confidence[name])
    return msgspec.structs.replace(
        fields, confidence=confidence, review_fields=fields_to_review(confidence)
    )


def fields_to_review(confidence: dict[str, float]) -> list[str]:
    """The fields an expense needs whose confidence is below REVIEW_CONFIDENCE (or unknown)."""
    return [name for name in REVIEWED_FIELDS if confidence.get(name, 0.0) < REVIEW_CONFIDENCE]


def likelihood(table: CalibrationTable, name: str, source: str, score: float) -> float:
    """How often a field read with this evidence was right; the rules' own score where the
    table knows nothing of such evidence."""
    bands = table.get(name, {}).get(source)
    return bands[band_of(score)] if bands else score


def band_of(score: float) -> int:
    return next((i for i, upper in enumerate(SCORE_BANDS) if score <= upper), len(SCORE_BANDS) - 1)


def fit_table(samples: Iterable[Sample]) -> CalibrationTable:
    """The calibration table for these samples (fields that were found)."""
    counts: dict[tuple[str, str], list[list[int]]] = {}
    for sample in samples:
        bands = counts.setdefault((sample.field, sample.source), [[0, 0] for _ in SCORE_BANDS])
        band = bands[band_of(sample.score)]
        band[0] += 1
        band[1] += sample.right
    table: CalibrationTable = {}
    for (name, source), bands in sorted(counts.items()):
        table.setdefault(name, {})[source] = _monotone_lower_bounds(bands)
    return table


def _monotone_lower_bounds(bands: list[list[int]]) -> list[float]:
    """Per band, the lower bound of its share right, after pooling neighbouring bands whose
    shares would fall as the score rises (a higher score must never mean less sure)."""
    pools: list[tuple[int, int, int]] = []  # (first band, seen, right)
    for index, (seen, right) in enumerate(bands):
        if seen == 0:
            continue  # an empty band shares the bound of the band below it
        pools.append((index, seen, right))
        while len(pools) > 1 and _share(pools[-1]) < _share(pools[-2]):
            last, before = pools.pop(), pools.pop()
            pools.append((before[0], before[1] + last[1], before[2] + last[2]))
    bounds = [0.0] * len(bands)
    for position, (first, seen, right) in enumerate(pools):
        end = pools[position + 1][0] if position + 1 < len(pools) else len(bands)
        for index in range(first, end):
            bounds[index] = round(_wilson_lower(right, seen), 3)
    return bounds


def _share(pool: tuple[int, int, int]) -> float:
    _, seen, right = pool
    return right / seen if seen else 1.0


def _wilson_lower(right: int, seen: int) -> float:
    if seen == 0:
        return 0.0
    z = CALIBRATION_Z
    share = right / seen
    centre = share + z * z / (2 * seen)
    margin = z * math.sqrt(share * (1 - share) / seen + z * z / (4 * seen * seen))
    return max(0.0, (centre - margin) / (1 + z * z / seen))
