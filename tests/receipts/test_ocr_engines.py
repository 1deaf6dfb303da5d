"""The OCR engines: choice by setting, models from the installed package only, loaded once
per process; the `auto` cascade's escalation; the calibration of confidences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from expense_wise.domain.receipts.extraction.confidence import (
    REVIEW_CONFIDENCE,
    Sample,
    calibrated,
    fit_table,
)
from expense_wise.domain.receipts.extraction.fields import ExtractedFields
from expense_wise.domain.receipts.extraction.strategy import read_cascade
from expense_wise.domain.receipts.ocr import OcrResult, OcrWord
from expense_wise.settings import SettingsError, load_settings
from tests.conftest import RECEIPTS_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]

# Every connection attempt and name lookup during the run is refused and recorded: a model
# or a character table fetched at run time would fail the extraction and show here.
NO_NETWORK = """
import json, sys
attempts = []
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        attempts.append(event)
        raise OSError("network use during extraction: " + event)
sys.addaudithook(refuse)
from expense_wise.domain.receipts import extraction, rapid
data = open(sys.argv[1], "rb").read()
results = [extraction.extract(data, engine) for engine in ("rapidocr", "rapidocr", "auto")]
print(json.dumps({
    "attempts": attempts,
    "loads": rapid.loads,
    "totals": [str(fields.total) for fields in results],
}))
"""


def test_rapidocr_reads_with_no_network_and_loads_once_per_process(tmp_path: Path) -> None:
    # An empty home and cache: the models can only come from the installed package.
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT / "src"),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "OMP_THREAD_LIMIT": "1",
    }
    completed = subprocess.run(
        [sys.executable, "-c", NO_NETWORK, str(RECEIPTS_DIR / "trading.jpg")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result["attempts"] == []
    assert result["totals"] == ["14.10", "14.10", "14.10"]
    # The whole-receipt engine once for both rapidocr readings; at most the recogniser of
    # pieces besides it for the cascade.
    assert 1 <= result["loads"] <= 2
    # No model or character table landed in the home or cache either (onnxruntime writes
    # only a small device id file there).
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert not [path for path in written if path.suffix in (".onnx", ".txt", ".yaml")], written
    assert all(path.stat().st_size < 64 * 1024 for path in written), written


def test_ocr_engine_setting() -> None:
    assert load_settings({}).worker.ocr_engine == "auto"
    assert load_settings({"OCR_ENGINE": "RapidOCR"}).worker.ocr_engine == "rapidocr"
    with pytest.raises(SettingsError, match="OCR_ENGINE"):
        load_settings({"OCR_ENGINE": "paddle"})


# --- the cascade, with readings made up for the purpose -----------------------------------


def reading(rows: list[str], engine: str = "tesseract", confidence: float = 95.0) -> OcrResult:
    """A reading with one word box per word, rows 40 px apart."""
    words = [
        OcrWord(
            text=text,
            confidence=confidence,
            block=1,
            paragraph=1,
            line=number,
            left=20 + 120 * position,
            top=40 * number,
            width=100,
            height=24,
        )
        for number, row in enumerate(rows, start=1)
        for position, text in enumerate(row.split())
    ]
    return OcrResult(
        text="\n".join(rows), words=words, image_width=800, image_height=1200, engine=engine
    )


RECEIPT_ROWS = [
    "KEDAI MAJU SDN BHD",
    "NO. 5 JALAN BESAR",
    "DATE: 25/12/2018 10:00",
    "TEA 9.00",
    "TOTAL 9.00",
    "CASH 10.00",
    "CHANGE 1.00",
    *["THANK YOU PLEASE COME AGAIN"] * 3,
]
# Calibration where Tesseract alone is never sure and agreement always is.
DOUBTING_TESSERACT = {
    name: {"tesseract": [0.5] * 5, "rapidocr": [0.8] * 5, "both": [0.99] * 5}
    for name in ("merchant", "date", "total")
}


class Engines:
    """Tesseract's reading, RapidOCR's whole reading and its reading of pieces, counted."""

    def __init__(self, cheap: list[str], pieces: dict[str, str] | None = None) -> None:
        self.cheap = cheap
        self.pieces = pieces or {}
        self.calls: list[str] = []

    def tesseract(self, enlarge: float, faint_print: bool) -> OcrResult:
        self.calls.append("tesseract")
        return reading(self.cheap)

    def whole(self) -> OcrResult:
        self.calls.append("rapidocr")
        return reading(RECEIPT_ROWS, engine="rapidocr")

    def recognise(self, boxes: list[tuple[int, int, int, int]]) -> list[tuple[str, float]]:
        """The text of the cheap reading's words inside each box, corrected by `pieces`."""
        self.calls.append(f"pieces:{len(boxes)}")
        words = reading(self.cheap).words
        texts = [
            " ".join(w.text for w in words if left <= w.left < right and top <= w.top < bottom)
            for left, top, right, bottom in boxes
        ]
        return [(self.pieces.get(text, text), 0.99) for text in texts]


def test_a_sure_tesseract_reading_is_not_escalated() -> None:
    engines = Engines(RECEIPT_ROWS)
    sure = {name: {"tesseract": [0.97] * 5} for name in ("merchant", "date", "total")}

    fields, readings = read_cascade(engines.tesseract, engines.whole, engines.recognise, sure)

    assert engines.calls == ["tesseract"] and readings == 1
    assert fields.total == Decimal("9.00")


def test_a_doubtful_reading_gets_its_pieces_read_again_and_agreement_settles_it() -> None:
    engines = Engines(RECEIPT_ROWS)

    fields, readings = read_cascade(
        engines.tesseract, engines.whole, engines.recognise, DOUBTING_TESSERACT
    )

    assert engines.calls[0] == "tesseract" and engines.calls[1].startswith("pieces:")
    assert "rapidocr" not in engines.calls and readings == 2
    assert fields.sources["total"] == "both"
    assert calibrated(fields, DOUBTING_TESSERACT).review_fields == []


def test_a_misread_total_is_corrected_and_a_dispute_goes_to_the_whole_reading() -> None:
    # Tesseract read 9.60 for 9.00; RapidOCR's pieces say 9.00, so the engines disagree.
    misread = [row.replace("TOTAL 9.00", "TOTAL 9.60") for row in RECEIPT_ROWS]
    engines = Engines(misread, pieces={"TOTAL 9.60": "TOTAL 9.00"})

    fields, readings = read_cascade(
        engines.tesseract, engines.whole, engines.recognise, DOUBTING_TESSERACT
    )

    assert fields.total == Decimal("9.00")  # RapidOCR is right more often when they differ
    assert engines.calls[-1] == "rapidocr" and readings == 3
    assert calibrated(fields, DOUBTING_TESSERACT).review_fields == ["total"]


# --- calibration ---------------------------------------------------------------------------


def test_calibration_is_a_lower_bound_and_never_falls_as_the_score_rises() -> None:
    samples = [
        *(Sample("total", "both", 0.95, True) for _ in range(300)),
        *(Sample("total", "tesseract", 0.2, right) for right in [True] * 6 + [False] * 4),
        # A high band that happened to do worse than the one below it is pooled with it.
        *(Sample("total", "tesseract", 0.8, right) for right in [True] * 9 + [False] * 1),
        *(Sample("total", "tesseract", 0.95, right) for right in [True] * 8 + [False] * 2),
    ]
    table = fit_table(samples)

    both = table["total"]["both"][-1]
    assert REVIEW_CONFIDENCE < both < 1.0  # 300 of 300 right: sure, but not certain
    tesseract = table["total"]["tesseract"]
    assert tesseract == sorted(tesseract)
    assert tesseract[0] < 0.6 and tesseract[-1] < 0.85  # 17 of 20: far from sure
    assert table["total"]["tesseract"][3] == table["total"]["tesseract"][4]


def test_a_missing_field_has_no_confidence_and_needs_review() -> None:
    fields = ExtractedFields(
        merchant="KEDAI MAJU SDN BHD",
        date=None,
        total=Decimal("9.00"),
        currency=None,
        confidence={"merchant": 0.9, "date": 0.0, "total": 0.9, "currency": 0.0},
        raw_text="",
        sources=dict.fromkeys(("merchant", "date", "total", "currency"), "both"),
    )
    result = calibrated(fields, DOUBTING_TESSERACT)
    assert result.confidence["date"] == 0.0
    assert result.review_fields == ["date"] and result.needs_review


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_each_engine_reading_is_timed_under_its_engine(engine: str) -> None:
    from prometheus_client import REGISTRY

    from expense_wise.domain.receipts.extraction import extract_from_image
    from expense_wise.domain.receipts.images import load_image

    def count(name: str) -> float:
        value = REGISTRY.get_sample_value("ocr_reading_seconds_count", {"engine": name})
        return value or 0.0

    other = "rapidocr" if engine == "tesseract" else "tesseract"
    before, other_before = count(engine), count(other)
    image = load_image((RECEIPTS_DIR / "trading.jpg").read_bytes())
    _, readings = extract_from_image(image, engine)  # type: ignore[arg-type]
    assert readings >= 1
    assert count(engine) - before == readings
    assert count(other) == other_before
