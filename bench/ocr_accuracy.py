"""Receipt extraction measured so that it cannot flatter itself: grouped cross-validation.

    .venv/bin/python bench/ocr_accuracy.py                 # every receipt (~30 min, 2 processes)
    .venv/bin/python bench/ocr_accuracy.py --limit 60      # a quick look
    .venv/bin/python bench/ocr_accuracy.py --fit           # also rewrite calibration.json

Each `<id>.jpg` of the receipts folder is decoded and read once by every reading the three
strategies ask for (`tesseract`, `rapidocr`, `auto`), each reading timed, and the
`tesseract` command line is timed on the same file in the same run. Fields are compared
with `<id>.json`: total by numeric equality, date by day, merchant by case-insensitive
similarity >= 0.8 on whitespace-normalised names.

Cross-validation: receipts are grouped by merchant (names that are alike go in one group),
the groups dealt into 5 folds, and for each fold the calibration table (the only thing
fitted to data: see extraction/confidence.py) is fitted on the other four and used on it,
for the confidences, the review flags and `auto`'s decision to escalate. So no shop is in
both the receipts a fold is measured on and those its calibration came from. Each fold,
the mean, the figure for shops seen once in the whole set, and the reliability of the
calibrated confidences are printed. The rules themselves were written by hand; see the
README for what was developed on which receipts.

Times are per receipt, decoding included: the sum of the readings each strategy made,
median, p90 and mean, in CPU seconds (robust on a shared machine) and wall seconds, with
their ratio to the `tesseract` CLI's. `--ocr-cache DIR` keeps readings and their times, so
that rule changes can be re-scored in seconds; leave it out for the real measurement.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from difflib import SequenceMatcher
from pathlib import Path

import msgspec

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "src"))

from expense_wise.domain.receipts import rapid  # noqa: E402
from expense_wise.domain.receipts.extraction import (  # noqa: E402
    ExtractedFields,
    merchant_matches,
    read_receipt,
)
from expense_wise.domain.receipts.extraction.confidence import (  # noqa: E402
    ESCALATION_CONFIDENCE,
    REVIEW_CONFIDENCE,
    TABLE_PATH,
    CalibrationTable,
    Sample,
    calibrated,
    fit_table,
)
from expense_wise.domain.receipts.extraction.fields import extract_fields  # noqa: E402
from expense_wise.domain.receipts.extraction.reread import (  # noqa: E402
    box,
    pieces_to_reread,
    reread,
)
from expense_wise.domain.receipts.extraction.strategy import (  # noqa: E402
    combined,
    first_reading,
    read_cascade,
)
from expense_wise.domain.receipts.images import load_image  # noqa: E402
from expense_wise.domain.receipts.ocr import (  # noqa: E402
    MIN_LEGIBLE_WORDS,
    OcrResult,
    legible_word_count,
    run_ocr,
)

FIELDS = ("total", "date", "merchant")
MODES = ("tesseract", "rapidocr", "auto")
FOLDS = 5
TARGETS = {"total": 95.0, "date": 96.0, "merchant": 92.0}
MAX_AUTO_TIME_RATIO = 2.5
RELIABILITY_BANDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.01)
SHOP_SIMILARITY = 0.8


def default_data_dir() -> Path:
    return Path(
        os.environ.get("RECEIPTS_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "receipts")
    )


# --- reading every receipt once, timed ----------------------------------------------------


class Timed(msgspec.Struct):
    result: OcrResult
    cpu: float
    wall: float


class Readings(msgspec.Struct):
    """Every reading of one receipt that any strategy asked for, with its cost."""

    receipt_id: str
    decode_cpu: float
    decode_wall: float
    cli_cpu: float
    cli_wall: float
    tesseract: dict[str, Timed] = msgspec.field(default_factory=dict)
    rapidocr: Timed | None = None
    # RapidOCR's reading of the pieces of the first Tesseract reading that hold the fields.
    pieces: list[tuple[str, float]] = msgspec.field(default_factory=list)
    pieces_cpu: float = 0.0
    pieces_wall: float = 0.0


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """[cpu, wall] seconds of this process and its finished children."""
    spent = [0.0, 0.0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, wall = time.process_time(), time.perf_counter()
    yield spent
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    spent[0] = time.process_time() - cpu + child_cpu
    spent[1] = time.perf_counter() - wall


def variant_key(enlarge: float, faint_print: bool) -> str:
    return f"x{enlarge:g}" + (".faint" if faint_print else "")


def read_everything(image_path: Path, cache_dir: Path | None) -> Readings:
    cached = cache_dir / f"{image_path.stem}.readings.json" if cache_dir else None
    if cached is not None and cached.exists():
        return msgspec.json.decode(cached.read_bytes(), type=Readings)
    data = image_path.read_bytes()
    with stopwatch() as decode:
        image = load_image(data)
    with stopwatch() as cli:
        subprocess.run(["tesseract", str(image_path), "stdout"], check=True, capture_output=True)
    readings = Readings(image_path.stem, decode[0], decode[1], cli[0], cli[1])

    def tesseract(enlarge: float, faint_print: bool) -> OcrResult:
        key = variant_key(enlarge, faint_print)
        if key not in readings.tesseract:
            with stopwatch() as spent:
                result = run_ocr(image, enlarge, faint_print)
            readings.tesseract[key] = Timed(result, spent[0], spent[1])
        return readings.tesseract[key].result

    def strong() -> OcrResult:
        if readings.rapidocr is None:
            with stopwatch() as spent:
                result = rapid.read(image)
            readings.rapidocr = Timed(result, spent[0], spent[1])
        return readings.rapidocr.result

    read_receipt(tesseract)
    strong()
    first, _, _ = first_reading(tesseract)
    with stopwatch() as spent:
        readings.pieces = rapid.recognise(image, [box(p) for p in pieces_to_reread(first)])
    readings.pieces_cpu, readings.pieces_wall = spent
    if cached is not None:
        cached.write_bytes(msgspec.json.encode(readings))
    return readings


# --- replaying the strategies on the readings ---------------------------------------------


@dataclass
class Replay:
    """One strategy's result on one receipt, with the cost of the readings it used."""

    fields: ExtractedFields
    cpu: float
    wall: float
    readings: int


def replay(readings: Readings, mode: str, table: CalibrationTable, escalate_below: float) -> Replay:
    cost = [readings.decode_cpu, readings.decode_wall]
    used: set[str] = set()

    def charge(key: str, timed: Timed) -> OcrResult:
        if key not in used:
            used.add(key)
            cost[0] += timed.cpu
            cost[1] += timed.wall
        return timed.result

    def tesseract(enlarge: float, faint_print: bool) -> OcrResult:
        key = variant_key(enlarge, faint_print)
        return charge(key, readings.tesseract[key])

    def strong() -> OcrResult:
        assert readings.rapidocr is not None
        return charge("rapidocr", readings.rapidocr)

    def recognise(boxes: list[tuple[int, int, int, int]]) -> list[tuple[str, float]]:
        assert len(boxes) == len(readings.pieces)
        cost[0] += readings.pieces_cpu
        cost[1] += readings.pieces_wall
        return readings.pieces

    if mode == "tesseract":
        fields, count = read_receipt(tesseract)
    elif mode == "rapidocr":
        fields, count = extract_fields(strong()), 1
    else:
        fields, count = read_cascade(tesseract, strong, recognise, table, escalate_below)
    return Replay(calibrated(fields, table), cost[0], cost[1], count)


def single_engine_samples(readings: Readings, truth: dict[str, str]) -> list[Sample]:
    """Evidence for the `tesseract` and `rapidocr` sources: each strategy's own fields."""

    def tesseract(enlarge: float, faint_print: bool) -> OcrResult:
        return readings.tesseract[variant_key(enlarge, faint_print)].result

    assert readings.rapidocr is not None
    cheap, _ = read_receipt(tesseract)
    return samples_of(cheap, truth) + samples_of(extract_fields(readings.rapidocr.result), truth)


def cascade_samples(
    readings: Readings, truth: dict[str, str], table: CalibrationTable
) -> list[Sample]:
    """Evidence for `both` and `disputed`: the two engines combined as `auto` combines them
    when it escalates, with the pieces and with the whole RapidOCR reading (disputes
    settled with `table`)."""

    def tesseract(enlarge: float, faint_print: bool) -> OcrResult:
        return readings.tesseract[variant_key(enlarge, faint_print)].result

    assert readings.rapidocr is not None
    first_ocr, _, _ = first_reading(tesseract)
    first = extract_fields(first_ocr)
    closer = [extract_fields(readings.rapidocr.result)]
    if legible_word_count(first_ocr) >= MIN_LEGIBLE_WORDS:
        closer.append(extract_fields(reread(first_ocr, lambda boxes: readings.pieces)))
    return [
        sample
        for fields in closer
        for sample in samples_of(combined(first, fields, table), truth)
        if sample.source in ("both", "disputed")
    ]


def samples_of(fields: ExtractedFields, truth: dict[str, str]) -> list[Sample]:
    right = correctness(fields, truth)
    return [
        Sample(name, fields.sources[name], fields.confidence[name], right[name])
        for name in FIELDS
        if getattr(fields, name) is not None
    ]


def fitted(readings: list[Readings], truths: dict[str, dict[str, str]]) -> CalibrationTable:
    """The calibration table from these receipts: single engines first, then the cascade's
    sources with disputes settled by the single-engine table."""
    single = [s for r in readings for s in single_engine_samples(r, truths[r.receipt_id])]
    first = fit_table(single)
    cascade = [s for r in readings for s in cascade_samples(r, truths[r.receipt_id], first)]
    return fit_table(single + cascade)


def correctness(fields: ExtractedFields, truth: dict[str, str]) -> dict[str, bool]:
    return {
        "total": fields.total is not None and fields.total == Decimal(truth["total"]),
        "date": fields.date is not None and fields.date.isoformat() == truth["date_iso"],
        "merchant": merchant_matches(fields.merchant, truth["merchant"]),
    }


# --- folds grouped by merchant ------------------------------------------------------------


def shop_key(name: str) -> str:
    return "".join(ch for ch in name.upper() if ch.isalnum())


def shop_groups(merchants: dict[str, str]) -> list[list[str]]:
    """Receipt ids grouped by shop: names that are alike (ratio >= 0.8) join one group."""
    ids = sorted(merchants)
    parent = {receipt: receipt for receipt in ids}

    def root(receipt: str) -> str:
        while parent[receipt] != receipt:
            parent[receipt] = parent[parent[receipt]]
            receipt = parent[receipt]
        return receipt

    keys = {receipt: shop_key(merchants[receipt]) for receipt in ids}
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            a, b = keys[first], keys[second]
            if a == b or SequenceMatcher(None, a, b).ratio() >= SHOP_SIMILARITY:
                parent[root(second)] = root(first)
    groups: dict[str, list[str]] = {}
    for receipt in ids:
        groups.setdefault(root(receipt), []).append(receipt)
    return list(groups.values())


def assign_folds(groups: list[list[str]], folds: int) -> list[list[str]]:
    """Whole groups dealt to the emptiest fold, largest first (ties in a fixed random order)."""
    order = sorted(groups, key=lambda g: (-len(g), random.Random(g[0]).random()))
    dealt: list[list[str]] = [[] for _ in range(folds)]
    for group in order:
        min(dealt, key=len).extend(group)
    return dealt


# --- reporting ----------------------------------------------------------------------------


@dataclass
class Scored:
    receipt_id: str
    fold: int
    single_shop: bool  # the shop appears once in the whole set
    replays: dict[str, Replay]
    right: dict[str, dict[str, bool]] = field(default_factory=dict)


def percent(hits: int, total: int) -> float:
    return 100.0 * hits / total if total else 0.0


def accuracy(scored: list[Scored], mode: str) -> dict[str, float]:
    return {name: percent(sum(s.right[mode][name] for s in scored), len(scored)) for name in FIELDS}


def accuracy_row(label: str, scored: list[Scored], mode: str) -> str:
    figures = accuracy(scored, mode)
    cells = "  ".join(f"{name} {figures[name]:5.1f}%" for name in FIELDS)
    return f"  {label:<22} n={len(scored):<4} {cells}"


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="receipts folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N receipts")
    parser.add_argument("--workers", type=int, default=2, help="OCR processes")
    parser.add_argument("--ocr-cache", type=Path, default=None, help="reuse readings here")
    parser.add_argument("--fit", action="store_true", help=f"rewrite {TABLE_PATH.name}")
    parser.add_argument(
        "--escalate-below",
        type=float,
        default=ESCALATION_CONFIDENCE,
        help="auto's escalation threshold (default: the code's)",
    )
    parser.add_argument("--worst", type=int, default=0, help="misses to list per field")
    parser.add_argument(
        "--rss-receipts", type=int, default=20, help="receipts for the worker RSS (0: skip)"
    )
    args = parser.parse_args()

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    images = sorted(args.data.glob("*.jpg"))[: args.limit]
    if not images:
        raise SystemExit(f"no receipts in {args.data}")
    if args.ocr_cache:
        args.ocr_cache.mkdir(parents=True, exist_ok=True)
    truths = {p.stem: json.loads(p.with_suffix(".json").read_text()) for p in images}
    start = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        everything = list(pool.map(read_everything, images, [args.ocr_cache] * len(images)))
    elapsed = time.monotonic() - start
    by_id = {r.receipt_id: r for r in everything}

    groups = shop_groups({rid: truth["merchant"] for rid, truth in truths.items()})
    single = {group[0] for group in groups if len(group) == 1}
    folds = assign_folds(groups, FOLDS)
    scored: list[Scored] = []
    for number, test_ids in enumerate(folds):
        held_out = set(test_ids)
        table = fitted([r for rid, r in by_id.items() if rid not in held_out], truths)
        for rid in test_ids:
            replays = {mode: replay(by_id[rid], mode, table, args.escalate_below) for mode in MODES}
            item = Scored(rid, number, rid in single, replays)
            item.right = {
                mode: correctness(result.fields, truths[rid]) for mode, result in replays.items()
            }
            scored.append(item)

    print(
        f"receipts: {len(scored)} from {args.data}, {len(groups)} shops "
        f"({len(single)} seen once), {FOLDS} folds grouped by shop; "
        f"OCR in {elapsed:.0f} s with {args.workers} processes"
    )
    for mode in MODES:
        print(f"\n{mode}: held-out accuracy")
        per_fold = []
        for number in range(FOLDS):
            fold = [s for s in scored if s.fold == number]
            per_fold.append(accuracy(fold, mode))
            print(accuracy_row(f"fold {number + 1}", fold, mode))
        mean = {name: statistics.fmean(f[name] for f in per_fold) for name in FIELDS}
        print(
            "  "
            + f"{'mean of folds':<22} {'':<6} "
            + "  ".join(f"{name} {mean[name]:5.1f}%" for name in FIELDS)
        )
        print(accuracy_row("shops seen once", [s for s in scored if s.single_shop], mode))
        if mode == "auto":
            verdict = all(mean[name] >= TARGETS[name] for name in FIELDS)
            targets = ", ".join(f"{name} >= {TARGETS[name]:g}%" for name in FIELDS)
            print(f"  targets ({targets}): {'PASS' if verdict else 'FAIL'}")
        reliability(scored, mode)

    print("\ntime per receipt (decoding and every reading the strategy made)")
    cli_cpu = [by_id[s.receipt_id].cli_cpu for s in scored]
    cli_wall = [by_id[s.receipt_id].cli_wall for s in scored]
    print(time_row("tesseract CLI", cli_cpu, cli_wall, cli_cpu, cli_wall))
    for mode in MODES:
        cpu = [s.replays[mode].cpu for s in scored]
        wall = [s.replays[mode].wall for s in scored]
        print(time_row(mode, cpu, wall, cli_cpu, cli_wall))
    escalated = sum(s.replays["auto"].readings > 1 for s in scored)
    whole = sum(s.replays["auto"].readings > 2 for s in scored)
    print(f"  auto: pieces re-read on {escalated}, whole RapidOCR reading on {whole} receipts")
    auto_ratio = statistics.fmean(s.replays["auto"].cpu for s in scored) / max(
        statistics.fmean(cli_cpu), 1e-9
    )
    print(
        f"  auto escalated to RapidOCR on {escalated}/{len(scored)} receipts; mean CPU "
        f"{auto_ratio:.2f}x the CLI's (target <= {MAX_AUTO_TIME_RATIO}x): "
        f"{'PASS' if auto_ratio <= MAX_AUTO_TIME_RATIO else 'FAIL'}"
    )
    if args.rss_receipts:
        # The largest scans, and every engine path: full RapidOCR readings are the heaviest.
        largest = sorted(images, key=lambda p: p.stat().st_size)[-args.rss_receipts :]
        for engine in MODES:
            peak = worker_peak_rss_mb(largest, engine)
            print(
                f"worker peak RSS ({engine}, 2 jobs at once, {len(largest)} largest scans, "
                f"Tesseract children included): {peak:.0f} MB"
            )
    if args.worst:
        list_misses(scored, truths, args.worst)
    if args.fit:
        table = fitted(list(by_id.values()), truths)
        TABLE_PATH.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        print(f"\nwrote {TABLE_PATH} from all {len(by_id)} receipts")


def reliability(scored: list[Scored], mode: str) -> None:
    """How often fields were right, by their calibrated confidence on held-out folds."""
    rows: list[tuple[float, bool]] = [
        (s.replays[mode].fields.confidence[name], s.right[mode][name])
        for s in scored
        for name in FIELDS
        if getattr(s.replays[mode].fields, name) is not None
    ]
    cells = []
    for low, high in itertools.pairwise(RELIABILITY_BANDS):
        band = [right for confidence, right in rows if low <= confidence < high]
        if band:
            share = percent(sum(band), len(band))
            cells.append(f"[{low:.2f},{min(high, 1):.2f}) {share:5.1f}% of {len(band)}")
    sure = [right for confidence, right in rows if confidence >= REVIEW_CONFIDENCE]
    sure_share = percent(sum(sure), len(sure))
    flagged = sum(bool(s.replays[mode].fields.review_fields) for s in scored)
    print("  reliability: " + "; ".join(cells))
    print(
        f"  confidence >= {REVIEW_CONFIDENCE}: right {sure_share:.1f}% of {len(sure)} fields "
        f"(target >= 97%: {'PASS' if sure_share >= 97 else 'FAIL'}); "
        f"receipts flagged needs_review: {flagged}/{len(scored)}"
    )


def time_row(
    label: str, cpu: list[float], wall: list[float], cli_cpu: list[float], cli_wall: list[float]
) -> str:
    def figures(values: list[float], reference: list[float]) -> str:
        ratio = statistics.fmean(values) / max(statistics.fmean(reference), 1e-9)
        return (
            f"median {statistics.median(values):5.2f} s  p90 {p90(values):5.2f}  "
            f"mean {statistics.fmean(values):5.2f} ({ratio:4.2f}x CLI)"
        )

    return f"  {label:<14} CPU {figures(cpu, cli_cpu)}   wall {figures(wall, cli_wall)}"


# What `expense-wise worker` does with receipts: WORKER_CONCURRENCY jobs at once in one
# process (threads sharing the engines), each `extract(data, engine)`.
WORKER = """
import sys
from concurrent.futures import ThreadPoolExecutor
from expense_wise.domain.receipts import extraction
paths, engine = sys.argv[2:], sys.argv[1]
with ThreadPoolExecutor(2) as pool:
    list(pool.map(lambda p: extraction.extract(open(p, "rb").read(), engine), paths))
"""


def worker_peak_rss_mb(paths: list[Path], engine: str) -> float:
    """Peak memory of a worker-like process and its Tesseract children, together (what a
    container's memory limit counts), sampled every 20 ms."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "OMP_THREAD_LIMIT": "1"}
    process = subprocess.Popen([sys.executable, "-c", WORKER, engine, *map(str, paths)], env=env)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_rss_mb(process.pid))
        time.sleep(0.02)
    if process.returncode != 0:
        raise SystemExit(f"the worker-like process failed ({process.returncode})")
    return peak


def tree_rss_mb(pid: int) -> float:
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        if "VmRSS:" in status:  # not a zombie
            total += int(status.split("VmRSS:")[1].split()[0]) / 1024
        pending.extend(int(child) for child in children)
    return total


def list_misses(scored: list[Scored], truths: dict[str, dict[str, str]], worst: int) -> None:
    for name in FIELDS:
        misses = [s for s in scored if not s.right["auto"][name]]
        print(f"\nauto {name} misses ({len(misses)}), first {worst}:")
        for s in misses[:worst]:
            found = getattr(s.replays["auto"].fields, name)
            expected = truths[s.receipt_id]["date_iso" if name == "date" else name]
            print(f"  {s.receipt_id}: found {found!r}, expected {expected!r}")


if __name__ == "__main__":
    main()
