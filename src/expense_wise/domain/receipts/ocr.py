"""Reading a receipt's words, with their boxes, from a prepared image.

Two engines: Tesseract (a subprocess, cheap) and RapidOCR (`rapid.py`: ONNX models, about
four times Tesseract's CPU, and far fewer misread digits). Both return an `OcrResult` of
words with boxes in the coordinates of the image they were given, so the field rules never
know which engine read the receipt.
"""

from __future__ import annotations

import io
import os
import subprocess
from typing import Final

import msgspec
import pytesseract
from PIL import Image

from expense_wise.domain.receipts.images import normalise_for_ocr

# Page segmentation mode 6 reads the receipt as one uniform block of text, so a label and its
# amount at the far right stay on one line (the default layout analysis often splits them into
# separate columns), and it skips the page-layout pass, which saves time. Receipts are printed
# dark on light, so Tesseract's extra pass over inverted text is switched off.
TESSERACT_CONFIG: Final = ("--oem", "1", "--psm", "6", "-c", "tessedit_do_invert=0")
# One Tesseract run on a receipt takes about a second; a run ten times longer is stuck.
TESSERACT_TIMEOUT_SECONDS: Final = 60
# A receipt has dozens of legible words; a reading with fewer found almost nothing.
MIN_LEGIBLE_WORDS: Final = 10
_LEGIBLE_WORD_CONFIDENCE: Final = 60.0


class OcrWord(msgspec.Struct, frozen=True):
    """One recognised word and its box. `line` numbers the engine's own text lines (Tesseract
    lines within a block and paragraph; RapidOCR detection boxes)."""

    text: str
    confidence: float  # 0..100
    block: int
    paragraph: int
    line: int
    left: int
    top: int
    width: int
    height: int


class OcrResult(msgspec.Struct, frozen=True):
    """Recognised text (one line per engine line) and the words it was built from."""

    text: str
    words: list[OcrWord]
    image_width: int
    image_height: int
    engine: str = "tesseract"


def legible_word_count(ocr: OcrResult) -> int:
    """Words the engine is fairly sure of and that have at least three letters or digits."""
    return sum(
        1
        for word in ocr.words
        if word.confidence >= _LEGIBLE_WORD_CONFIDENCE
        and sum(ch.isalnum() for ch in word.text) >= 3
    )


def run_ocr(image: Image.Image, enlarge: float = 1.0, faint_print: bool = False) -> OcrResult:
    """Read the receipt's words with a single Tesseract run.

    `enlarge` > 1 reads an enlarged copy: slower, and it trades some words for others, so it
    is only used for a closer look at fields the first reading left missing or doubtful.
    `faint_print` binarises for faint print first (for a receipt the plain reading found
    almost empty).

    The image goes to Tesseract on its standard input and the words come back on its
    standard output: no temporary file exists that a killed worker could leave behind.
    Tesseract runs single-threaded unless OMP_THREAD_LIMIT is already set: the worker runs
    one OCR per core, and OpenMP threads inside each would only compete for the same cores.
    """
    prepared = normalise_for_ocr(image, enlarge, faint_print)
    buffer = io.BytesIO()
    # BMP: compressing a receipt-sized PNG costs more than a tenth of Tesseract's run time.
    prepared.save(buffer, format="BMP")
    command = [pytesseract.pytesseract.tesseract_cmd, "stdin", "stdout", "-l", "eng"]
    try:
        finished = subprocess.run(  # noqa: S603 - a fixed command, no shell
            [*command, *TESSERACT_CONFIG, "tsv"],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=TESSERACT_TIMEOUT_SECONDS,
            env={**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"Tesseract took longer than {TESSERACT_TIMEOUT_SECONDS} s") from exc
    if finished.returncode != 0:
        message = finished.stderr.decode("utf-8", "replace").strip()
        raise pytesseract.TesseractError(finished.returncode, message)
    tsv = finished.stdout.decode("utf-8", "replace")
    words = _words_from_tesseract(pytesseract.pytesseract.file_to_dict(tsv, "\t", -1))
    return OcrResult(
        text=text_from_words(words),
        words=words,
        image_width=prepared.width,
        image_height=prepared.height,
    )


def _words_from_tesseract(data: dict[str, list[object]]) -> list[OcrWord]:
    words: list[OcrWord] = []
    for index, raw_text in enumerate(data.get("text", [])):
        text = str(raw_text).strip()
        if not text:
            continue
        words.append(
            OcrWord(
                text=text,
                confidence=max(0.0, float(str(data["conf"][index]))),
                block=int(str(data["block_num"][index])),
                paragraph=int(str(data["par_num"][index])),
                line=int(str(data["line_num"][index])),
                left=int(str(data["left"][index])),
                top=int(str(data["top"][index])),
                width=int(str(data["width"][index])),
                height=int(str(data["height"][index])),
            )
        )
    return words


def text_from_words(words: list[OcrWord]) -> str:
    """Plain text: one line per engine line, a blank line between blocks."""
    lines: list[str] = []
    current_key: tuple[int, int, int] | None = None
    current_block: int | None = None
    for word in words:
        key = (word.block, word.paragraph, word.line)
        if key != current_key:
            if current_block is not None and word.block != current_block:
                lines.append("")
            lines.append(word.text)
            current_key, current_block = key, word.block
        else:
            lines[-1] += " " + word.text
    return "\n".join(lines)
