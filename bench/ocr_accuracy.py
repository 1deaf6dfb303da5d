"""Field-extraction accuracy on the scanned receipts with ground truth.

    uv run python bench/ocr_accuracy.py                # every receipt, 2 processes
    uv run python bench/ocr_accuracy.py --limit 40     # a quick look

Runs the real pipeline (decode, OCR, extract) on each `<id>.jpg` and compares with `<id>.json`:
total by numeric equality, date by day, merchant by case-insensitive similarity >= 0.8 on
whitespace-normalised names. Reports all receipts and the even/odd halves separately (rules are
developed on the even half; the odd half shows whether they generalise). `--ocr-cache DIR`
stores OCR output so that rule changes can be re-scored in seconds; leave it out for the
real measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from pathlib import Path

import msgspec

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "src"))

from expense_wise.domain.receipts.extraction import (  # noqa: E402
    SECOND_LOOK_ENLARGE,
    ExtractedFields,
    merchant_matches,
    read_receipt,
)
from expense_wise.domain.receipts.ocr import OcrResult, load_image, run_ocr  # noqa: E402

FIELDS = ("total", "date", "merchant")


def default_data_dir() -> Path:
    return Path(
        os.environ.get("RECEIPTS_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "receipts")
    )


@dataclass(frozen=True)
class Outcome:
    receipt_id: str
    index: int
    found: dict[str, str | None]
    expected: dict[str, str]
    correct: dict[str, bool]
    readings: int  # Tesseract runs


def ocr_receipt(
    image_path: Path, cache_dir: Path | None, enlarge: float = 1.0, faint_print: bool = False
) -> OcrResult:
    suffix = ("" if enlarge == 1.0 else f".x{enlarge:g}") + (".faint" if faint_print else "")
    cached = cache_dir / f"{image_path.stem}{suffix}.json" if cache_dir else None
    if cached is not None and cached.exists():
        return msgspec.json.decode(cached.read_bytes(), type=OcrResult)
    result = run_ocr(load_image(image_path.read_bytes()), enlarge, faint_print)
    if cached is not None:
        cached.write_bytes(msgspec.json.encode(result))
    return result


def read_cached(image_path: Path, cache_dir: Path | None) -> tuple[ExtractedFields, int]:
    """What `extract_from_image` does, with each OCR reading cached separately."""
    return read_receipt(
        lambda enlarge, faint_print: ocr_receipt(image_path, cache_dir, enlarge, faint_print)
    )


def evaluate(image_path: Path, index: int, cache_dir: Path | None) -> Outcome:
    truth = json.loads(image_path.with_suffix(".json").read_text())
    fields, readings = read_cached(image_path, cache_dir)
    found = {
        "total": str(fields.total) if fields.total is not None else None,
        "date": fields.date.isoformat() if fields.date else None,
        "merchant": fields.merchant,
    }
    expected = {"total": truth["total"], "date": truth["date_iso"], "merchant": truth["merchant"]}
    correct = {
        "total": fields.total is not None and fields.total == Decimal(truth["total"]),
        "date": found["date"] == truth["date_iso"],
        "merchant": merchant_matches(fields.merchant, truth["merchant"]),
    }
    return Outcome(image_path.stem, index, found, expected, correct, readings)


def accuracy_line(label: str, outcomes: list[Outcome]) -> str:
    if not outcomes:
        return f"{label:<6} (no receipts)"
    parts = []
    for field in FIELDS:
        hits = sum(o.correct[field] for o in outcomes)
        parts.append(f"{field} {100 * hits / len(outcomes):5.1f}% ({hits}/{len(outcomes)})")
    return f"{label:<6} " + "   ".join(parts)


def miss_distance(outcome: Outcome, field: str) -> float:
    """How far off a miss is, to list the worst ones first."""
    found, expected = outcome.found[field], outcome.expected[field]
    if found is None:
        return float("inf")
    if field == "total":
        return abs(float(Decimal(found)) - float(expected)) / max(1.0, float(expected))
    if field == "date":
        return 1.0
    return 1 - SequenceMatcher(None, found.lower(), expected.lower()).ratio()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="receipts folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N receipts")
    parser.add_argument("--workers", type=int, default=2, help="OCR processes")
    parser.add_argument("--worst", type=int, default=5, help="misses to list per field")
    parser.add_argument("--ocr-cache", type=Path, default=None, help="reuse OCR output here")
    args = parser.parse_args()

    images = sorted(args.data.glob("*.jpg"))[: args.limit]
    if not images:
        raise SystemExit(f"no receipts in {args.data}")
    if args.ocr_cache:
        args.ocr_cache.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(
            pool.map(evaluate, images, range(len(images)), [args.ocr_cache] * len(images))
        )
    elapsed = time.monotonic() - start

    print(f"receipts: {len(outcomes)} from {args.data} in {elapsed:.0f} s")
    print(accuracy_line("all", outcomes))
    print(accuracy_line("even", [o for o in outcomes if o.index % 2 == 0]))
    print(accuracy_line("odd", [o for o in outcomes if o.index % 2 == 1]))
    readings = [o.readings for o in outcomes]
    print(
        f"Tesseract readings per receipt: mean {sum(readings) / len(readings):.2f}; "
        f"more than one (faint print or a x{SECOND_LOOK_ENLARGE:g} second look) on "
        f"{sum(r > 1 for r in readings)}/{len(outcomes)}"
    )
    for field in FIELDS:
        misses = [o for o in outcomes if not o.correct[field]]
        misses.sort(key=lambda o: miss_distance(o, field), reverse=True)
        print(f"\nworst {field} misses ({len(misses)} in all):")
        for outcome in misses[: args.worst]:
            print(
                f"  {outcome.receipt_id}: found {outcome.found[field]!r}, "
                f"expected {outcome.expected[field]!r}"
            )


if __name__ == "__main__":
    main()
