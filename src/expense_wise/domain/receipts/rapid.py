"""RapidOCR: text detection and recognition with the PP-OCR ONNX models shipped inside the
`rapidocr` wheel, run by onnxruntime.

The models are read from the installed package and nothing is fetched at run time (the
recognition model carries its own character table). Loading takes a few seconds and about
300 MB, so each process loads the engine once, on first use, and every job shares it
(onnxruntime sessions are safe to call from several threads).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final, cast

from PIL import Image

from expense_wise.domain.receipts.images import normalise_for_ocr
from expense_wise.domain.receipts.ocr import OcrResult, OcrWord, text_from_words

if TYPE_CHECKING:
    from rapidocr import RapidOCR
    from rapidocr.utils.output import RapidOCROutput

# The detection model sees the receipt with its longer side at most this long. Receipts
# are tall and narrow, so this keeps their print at the size the model was trained on.
MAX_SIDE: Final = 3000
# One thread per OCR: the worker runs WORKER_CONCURRENCY jobs, each on its own core.
_ENGINE_PARAMS: Final[dict[str, Any]] = {
    "Global.log_level": "error",
    "Global.use_cls": False,  # receipts are scanned upright; EXIF rotation is applied first
    "Global.max_side_len": MAX_SIDE,
    "Global.return_word_box": True,
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}

# (text, score 0..1, the four corners) of each word of each detected box.
_WordBox = tuple[str, float, list[list[float]] | None]

# Recognition alone, for pieces of a receipt another engine has already found. A separate
# engine, configured once: RapidOCR keeps per-call options on the engine object, so
# switching one engine between the two uses would race between concurrent jobs.
_RECOGNISER_PARAMS: Final[dict[str, Any]] = {
    **_ENGINE_PARAMS,
    "Global.use_det": False,
    "Global.return_word_box": False,
}
# Room around a piece's box, in heights of the piece: Tesseract's boxes fit the ink tightly,
# and leave out a faint first or last character more often than they cut into a neighbour.
PIECE_MARGIN: Final = 0.25
PIECE_SIDE_MARGIN: Final = 0.3

_engines: dict[str, RapidOCR] = {}
_engine_lock = threading.Lock()
loads = 0  # how many engines this process loaded (tests check each is loaded once)


def engine(kind: str = "full") -> RapidOCR:
    """The process's RapidOCR engine (`full`, or `recogniser`), loaded on first use."""
    global loads
    with _engine_lock:
        if kind not in _engines:
            # Imported on first use: numpy, OpenCV and onnxruntime cost every other process
            # (the API, the CLI) time and memory for nothing.
            from rapidocr import RapidOCR

            params = _ENGINE_PARAMS if kind == "full" else _RECOGNISER_PARAMS
            _engines[kind] = RapidOCR(params=dict(params))
            loads += 1
        return _engines[kind]


def recognise(
    image: Image.Image, boxes: list[tuple[int, int, int, int]]
) -> list[tuple[str, float]]:
    """The text of each box (left, top, right, bottom) of the prepared image, and how sure
    the model is of it (0..1)."""
    prepared = normalise_for_ocr(image)
    recogniser = engine("recogniser")
    found = []
    for left, top, right, bottom in boxes:
        height = bottom - top
        crop = prepared.crop(
            (
                max(0, left - round(PIECE_SIDE_MARGIN * height)),
                max(0, top - round(PIECE_MARGIN * height)),
                min(prepared.width, right + round(PIECE_SIDE_MARGIN * height)),
                min(prepared.height, bottom + round(PIECE_MARGIN * height)),
            )
        )
        output = cast("RapidOCROutput", recogniser(crop.convert("RGB")))
        if output.txts:
            found.append((" ".join(output.txts), float(min(output.scores or (0.0,)))))
        else:
            found.append(("", 0.0))
    return found


def read(image: Image.Image) -> OcrResult:
    """Read the receipt's words: one `line` per detected text box, split into words."""
    prepared = normalise_for_ocr(image)
    # With detection and recognition on, the output is a RapidOCROutput, without text
    # (txts None) when nothing was detected.
    output = cast("RapidOCROutput", engine()(prepared.convert("RGB")))
    found = cast("list[list[_WordBox]]", output.word_results if output.txts else [])
    words: list[OcrWord] = []
    for line, word_boxes in enumerate(found, start=1):
        for text, score, box in word_boxes:
            if not text.strip() or box is None:
                continue
            xs = [point[0] for point in box]
            ys = [point[1] for point in box]
            words.append(
                OcrWord(
                    text=text.strip(),
                    confidence=round(100 * float(score), 1),
                    block=1,
                    paragraph=1,
                    line=line,
                    left=int(min(xs)),
                    top=int(min(ys)),
                    width=int(max(xs) - min(xs)),
                    height=int(max(ys) - min(ys)),
                )
            )
    return OcrResult(
        text=text_from_words(words),
        words=words,
        image_width=prepared.width,
        image_height=prepared.height,
        engine="rapidocr",
    )
