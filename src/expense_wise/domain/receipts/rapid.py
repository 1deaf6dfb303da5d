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

_engine: RapidOCR | None = None
_engine_lock = threading.Lock()
loads = 0  # how many times this process loaded the models (tests check it stays at one)


def engine() -> RapidOCR:
    """The process's RapidOCR engine, loaded on first use."""
    global _engine, loads
    with _engine_lock:
        if _engine is None:
            # Imported on first use: numpy, OpenCV and onnxruntime cost every other process
            # (the API, the CLI) time and memory for nothing.
            from rapidocr import RapidOCR

            _engine = RapidOCR(params=dict(_ENGINE_PARAMS))
            loads += 1
        return _engine


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
