"""How long our OCR step takes compared with running the `tesseract` command line directly.

    uv run python bench/ocr_speed.py            # every receipt (~5 min), single-threaded
    uv run python bench/ocr_speed.py -n 40 --omp-threads 0   # a quick look; 0 = OpenMP decides

For each receipt it times the whole OCR step, `extract_from_image(load_image(bytes))` with
the default engine (OCR_ENGINE; see bench/ocr_accuracy.py for every engine and what each
reading costs), and `tesseract IMAGE stdout` on the same file with the same
OMP_THREAD_LIMIT, then prints both medians, their ratio and the ratio of the total times.
Every receipt by default: how many need more than one reading varies a lot along the folder
(15 of the first 40, 83 of all 379), and so does the median. Finally it runs two OCRs at a
time for a while, as the worker does, and reports how busy each CPU core was (/proc/stat).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "src"))

from expense_wise.domain.receipts.extraction import extract_from_image  # noqa: E402
from expense_wise.domain.receipts.images import load_image  # noqa: E402


def default_data_dir() -> Path:
    return Path(
        os.environ.get("RECEIPTS_DATA_DIR", REPO_ROOT.parent / "shared" / "data" / "receipts")
    )


def time_ours(path: Path) -> tuple[float, int]:
    """Seconds for the OCR step, and how many Tesseract readings it made."""
    data = path.read_bytes()
    start = time.perf_counter()
    _, readings = extract_from_image(load_image(data))
    return time.perf_counter() - start, readings


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def time_cli(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["tesseract", str(path), "stdout"], check=True, capture_output=True, env=os.environ.copy()
    )
    return time.perf_counter() - start


def cpu_counters() -> list[tuple[int, int]]:
    """(busy, total) jiffies for each CPU core."""
    counters = []
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu":
            values = [int(v) for v in fields]
            idle = values[3] + values[4]  # idle + iowait
            counters.append((sum(values) - idle, sum(values)))
    return counters


def ocr_loop(paths: list[Path], seconds: float) -> int:
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline:
        extract_from_image(load_image(paths[done % len(paths)].read_bytes()))
        done += 1
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=None, help="only the first N")
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="receipts folder")
    parser.add_argument("--omp-threads", type=int, default=1, help="OMP_THREAD_LIMIT; 0 = unset")
    parser.add_argument("--busy-seconds", type=float, default=20.0, help="concurrent phase")
    args = parser.parse_args()

    if args.omp_threads > 0:
        os.environ["OMP_THREAD_LIMIT"] = str(args.omp_threads)
    else:
        # run_ocr defaults to one thread when the variable is unset; "0" would not be honoured,
        # so give OpenMP the machine's core count explicitly.
        os.environ["OMP_THREAD_LIMIT"] = str(os.cpu_count() or 1)
    paths = sorted(args.data.glob("*.jpg"))[: args.count]
    if not paths:
        raise SystemExit(f"no receipts in {args.data}")

    # Warm the page cache and Tesseract's model loading path before timing.
    time_ours(paths[0])
    time_cli(paths[0])
    ours: list[float] = []
    cli: list[float] = []
    extra_readings = 0
    for index, path in enumerate(paths):
        # Alternate the order so neither side always runs on a warmer cache.
        if index % 2 == 0:
            seconds, readings = time_ours(path)
            cli.append(time_cli(path))
        else:
            cli.append(time_cli(path))
            seconds, readings = time_ours(path)
        ours.append(seconds)
        extra_readings += readings > 1
    ours_median, cli_median = statistics.median(ours), statistics.median(cli)
    print(f"receipts: {len(paths)}  OMP_THREAD_LIMIT={os.environ['OMP_THREAD_LIMIT']}")
    print(
        f"OCR step (from bytes) median: {ours_median * 1000:.0f} ms, "
        f"p90 {p90(ours) * 1000:.0f} ms; more than one reading on {extra_readings}/{len(paths)}"
    )
    print(f"tesseract CLI median:         {cli_median * 1000:.0f} ms, p90 {p90(cli) * 1000:.0f} ms")
    print(f"ratio of medians: {ours_median / cli_median:.2f}x")
    # The median hides the receipts that needed several readings; the total does not.
    print(f"ratio of total times: {sum(ours) / sum(cli):.2f}x")

    before = cpu_counters()
    start = time.monotonic()
    with ProcessPoolExecutor(max_workers=2) as pool:
        halves = [paths[0::2], paths[1::2]]
        receipts_done = sum(pool.map(ocr_loop, halves, [args.busy_seconds] * 2))
    elapsed = time.monotonic() - start
    after = cpu_counters()
    usage = [
        100 * (b_busy - a_busy) / max(1, b_total - a_total)
        for (a_busy, a_total), (b_busy, b_total) in zip(before, after, strict=True)
    ]
    cores = ", ".join(f"cpu{i} {u:.0f}%" for i, u in enumerate(usage))
    print(
        f"2 concurrent OCRs for {elapsed:.1f} s: {receipts_done} receipts "
        f"({receipts_done / elapsed:.2f}/s); core utilisation: {cores}; "
        f"mean {statistics.mean(usage):.0f}%"
    )


if __name__ == "__main__":
    main()
