"""`python -m expense_wise.domain.receipts.cli extract` on sample receipts and a broken file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import RECEIPTS_DIR, missing_data

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_extract_json_lines_and_exit_code_on_a_bad_file(tmp_path: Path) -> None:
    receipts = [RECEIPTS_DIR / "trading.jpg", RECEIPTS_DIR / "cafe.png"]
    if not all(path.exists() for path in receipts):
        missing_data(f"sample receipts not found in {RECEIPTS_DIR}")
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG")
    # Run from the source tree, whether or not the package is installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), *sys.path])}

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "expense_wise.domain.receipts.cli",
            "extract",
            "--json",
            *map(str, receipts),
            str(garbage),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert completed.returncode != 0
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [record["file"] for record in records] == [*map(str, receipts), str(garbage)]
    for record, path in zip(records[:2], receipts, strict=True):
        truth = json.loads(path.with_suffix(".json").read_text())
        assert set(record) == {
            *("file", "merchant", "date", "total", "currency", "confidence"),
            *("needs_review", "review_fields"),
        }
        assert record["total"] == truth["total"]
        assert record["date"] == truth["date_iso"]
        assert set(record["confidence"]) == {"merchant", "date", "total", "currency"}
    assert set(records[2]) == {"file", "error"}
    assert records[2]["error"]


def test_extract_table_output(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), *sys.path])}
    completed = subprocess.run(
        [sys.executable, "-m", "expense_wise.domain.receipts.cli", "extract", str(missing)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert "MERCHANT" in completed.stdout
    assert "missing.png" in completed.stderr
