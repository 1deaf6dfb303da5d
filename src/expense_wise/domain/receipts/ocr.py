"""Decode uploaded receipt files and read their text with Tesseract.

Only this module talks to Tesseract; field extraction works on the `OcrResult` it returns so
that the parsing rules can be tested without images.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Final

import msgspec
import pypdfium2 as pdfium
import pytesseract
from PIL import Image, ImageFilter, ImageOps

PDF_RENDER_DPI: Final = 200
# Receipt scans are mostly 450-1000 px wide, which Tesseract reads as they are: enlarging them
# 2x found a few more dates but lost merchants and nearly doubled the OCR time. So only
# extremes are rescaled: thumbnails are enlarged and huge photos reduced.
MIN_OCR_WIDTH: Final = 400
MAX_OCR_PIXELS: Final = 6_000_000
# Page segmentation mode 6 reads the receipt as one uniform block of text, so a label and its
# amount at the far right stay on one line (the default layout analysis often splits them into
# separate columns), and it skips the page-layout pass, which saves time. Receipts are printed
# dark on light, so Tesseract's extra pass over inverted text is switched off.
TESSERACT_CONFIG: Final = "--oem 1 --psm 6 -c tessedit_do_invert=0"
# Faint dot-matrix print on a scan with a dark border defeats Tesseract's global (Otsu)
# threshold: the border pulls the threshold so low that the grey text turns white and nothing
# is read. Such a receipt is read again, slightly blurred (which joins the dots of dot-matrix
# print) and thresholded just below the paper's own brightness.
FAINT_PRINT_MARGIN: Final = 25
FAINT_PRINT_BLUR: Final = 0.7
# A receipt has dozens of legible words; a reading with fewer found almost nothing.
MIN_LEGIBLE_WORDS: Final = 10
_LEGIBLE_WORD_CONFIDENCE: Final = 60.0

_IMAGE_FORMATS: Final = ("JPEG", "PNG", "WEBP", "TIFF")


class ImageRejected(Exception):
    """The upload is not an image we can read, or it is too large to decode safely."""


class OcrWord(msgspec.Struct, frozen=True):
    """One word as Tesseract recognised it, with its position in the page layout."""

    text: str
    confidence: float  # 0..100, as reported by Tesseract
    block: int
    paragraph: int
    line: int
    left: int
    top: int
    width: int
    height: int


class OcrResult(msgspec.Struct, frozen=True):
    """Recognised text (one receipt line per text line) and the words it was built from."""

    text: str
    words: list[OcrWord]
    image_width: int
    image_height: int


def sniff_content_type(data: bytes) -> str | None:
    """Return the media type implied by the file's magic bytes, or None if not supported."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # TIFF, BigTIFF
        return "image/tiff"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def load_image(data: bytes, max_pixels: int = 40_000_000) -> Image.Image:
    """Decode an uploaded receipt (image, or the first page of a PDF) into an upright image.

    Raises ImageRejected for files that cannot be decoded and for images whose declared size
    exceeds `max_pixels` (decompression bombs), before their pixels are decoded.
    """
    content_type = sniff_content_type(data)
    if content_type is None:
        raise ImageRejected("The file is not a JPEG, PNG, WebP, TIFF or PDF document.")
    if content_type == "application/pdf":
        return _render_pdf_first_page(data, max_pixels)
    return _decode_raster(data, max_pixels)


def _decode_raster(data: bytes, max_pixels: int) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow only warns between its own limit and twice that; treat both as a bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(_too_large_message(width, height, max_pixels))
            image.load()
            return ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected("The image is too large to process.") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageRejected("The image file is damaged or not a supported format.") from exc


def _render_pdf_first_page(data: bytes, max_pixels: int) -> Image.Image:
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ImageRejected("The PDF document is damaged or password protected.") from exc
    try:
        if len(document) == 0:
            raise ImageRejected("The PDF document has no pages.")
        page = document[0]
        scale = PDF_RENDER_DPI / 72
        width_points, height_points = page.get_size()
        width, height = round(width_points * scale), round(height_points * scale)
        if width * height > max_pixels:
            raise ImageRejected(_too_large_message(width, height, max_pixels))
        bitmap = page.render(scale=scale, grayscale=True)
        image: Image.Image = bitmap.to_pil()
        return image
    except pdfium.PdfiumError as exc:
        raise ImageRejected("The PDF document could not be rendered.") from exc
    finally:
        document.close()


def _too_large_message(width: int, height: int, max_pixels: int) -> str:
    return f"The image is too large ({width}x{height} pixels; the limit is {max_pixels} pixels)."


def normalise_for_ocr(
    image: Image.Image, enlarge: float = 1.0, faint_print: bool = False
) -> Image.Image:
    """Grayscale on a white background, rescaled only when far outside Tesseract's range.

    `enlarge` scales the result further (the second, closer reading of a receipt).
    No thresholding by default: Tesseract binarises internally, and an adaptive (Sauvola)
    threshold read these scans no better than its default Otsu threshold. `faint_print`
    thresholds just below the paper's brightness instead (see FAINT_PRINT_MARGIN).
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    gray = image.convert("L")
    width, height = gray.size
    scale = 1.0
    if width < MIN_OCR_WIDTH:
        scale = MIN_OCR_WIDTH / width
    elif width * height > MAX_OCR_PIXELS:
        scale = (MAX_OCR_PIXELS / (width * height)) ** 0.5
    scale *= enlarge
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    if faint_print:
        gray = _threshold_below_paper(gray)
    return gray


def _threshold_below_paper(gray: Image.Image) -> Image.Image:
    """Black for anything a little darker than the paper (the most common grey level)."""
    gray = gray.filter(ImageFilter.GaussianBlur(FAINT_PRINT_BLUR))
    histogram = gray.histogram()
    paper = max(range(256), key=histogram.__getitem__)
    cut = max(1, paper - FAINT_PRINT_MARGIN)
    return gray.point(lambda level: 0 if level < cut else 255)


def legible_word_count(ocr: OcrResult) -> int:
    """Words Tesseract is fairly sure of and that have at least three letters or digits."""
    return sum(
        1
        for word in ocr.words
        if word.confidence >= _LEGIBLE_WORD_CONFIDENCE
        and sum(ch.isalnum() for ch in word.text) >= 3
    )


def run_ocr(image: Image.Image, enlarge: float = 1.0, faint_print: bool = False) -> OcrResult:
    """Read the receipt's text with a single Tesseract run.

    `enlarge` > 1 reads an enlarged copy: slower, and it trades some words for others, so it
    is only used for a second look at fields the first reading left missing or doubtful.
    `faint_print` binarises for faint print first (for a receipt the plain reading found
    almost empty).

    Tesseract runs single-threaded unless OMP_THREAD_LIMIT is already set: the worker runs
    one OCR per core, and OpenMP threads inside each would only compete for the same cores.
    """
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    prepared = normalise_for_ocr(image, enlarge, faint_print)
    # pytesseract hands the image over through a temporary file, PNG unless told otherwise;
    # compressing a receipt-sized PNG costs more than a tenth of Tesseract's own run time.
    prepared.format = "BMP"
    data = pytesseract.image_to_data(
        prepared, lang="eng", config=TESSERACT_CONFIG, output_type=pytesseract.Output.DICT
    )
    words = _words_from_tesseract(data)
    return OcrResult(
        text=_text_from_words(words),
        words=words,
        image_width=prepared.width,
        image_height=prepared.height,
    )


def _words_from_tesseract(data: dict[str, list[object]]) -> list[OcrWord]:
    words: list[OcrWord] = []
    for index, raw_text in enumerate(data["text"]):
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


def _text_from_words(words: list[OcrWord]) -> str:
    """Rebuild plain text: one line per Tesseract line, a blank line between blocks."""
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
