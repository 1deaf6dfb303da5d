"""Receipt files: what they are, whether they are safe to decode, and decoding them for OCR.

Memory is bounded at every step, because an upload is hostile until proven otherwise: a
tiny file can declare an enormous image (a PNG of 39 Mpx is 151 KB; a 330-byte PDF can have
a 3 x 14,400 pt page). So the declared size and shape are checked before any pixel is
decoded; the API process never decodes an upload in full (`probe`); the worker decodes only
down to what OCR needs (a JPEG is decoded at a reduced scale, a PDF rendered at a resolution
that fits the budget); and no preparation for OCR, enlargement included, exceeds
MAX_PREPARED_PIXELS.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import pypdfium2 as pdfium
from PIL import Image, ImageFilter

# Declared size limit of an upload (checked before decoding).
MAX_PIXELS: Final = 40_000_000
# Long side over short side. A long till receipt photographed whole is about 1:10; a page
# of 8 x 40,000 px is an attack on the OCR step, which would enlarge its narrow side.
MAX_ASPECT_RATIO: Final = 25.0
PDF_RENDER_DPI: Final = 200
# Receipt scans are mostly 450-1000 px wide, which the OCR engines read as they are:
# enlarging them 2x found a few more dates but lost merchants and nearly doubled the OCR
# time. So only extremes are rescaled: thumbnails are enlarged and huge photos reduced.
MIN_OCR_WIDTH: Final = 400
MAX_OCR_PIXELS: Final = 6_000_000
# The hard ceiling of any prepared image, a closer (enlarged) look included: about 16 MB of
# grayscale, and Tesseract's working memory stays in the low hundreds of MB.
MAX_PREPARED_PIXELS: Final = 16_000_000
# Faint dot-matrix print on a scan with a dark border defeats Tesseract's global (Otsu)
# threshold: the border pulls the threshold so low that the grey text turns white and nothing
# is read. Such a receipt is read again, slightly blurred (which joins the dots of dot-matrix
# print) and thresholded just below the paper's own brightness.
FAINT_PRINT_MARGIN: Final = 25
FAINT_PRINT_BLUR: Final = 0.7

_IMAGE_FORMATS: Final = ("JPEG", "PNG", "WEBP", "TIFF")
_ORIENTATION_TAG: Final = 0x0112
# How to turn an image upright for each EXIF orientation (as Pillow's exif_transpose does,
# but on the reduced grayscale copy instead of a full-size one).
_EXIF_TRANSPOSITIONS: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Pillow's errors for damaged files.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError)


class ImageRejected(Exception):
    """The upload is not an image we can read, or it is too large to decode safely."""


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


def probe(data: bytes, max_pixels: int = MAX_PIXELS) -> str:
    """The upload's media type, after checking what can be checked without decoding it.

    Reads the header (the declared size and shape); walks a PNG's chunks and decodes a
    JPEG at 1/8 scale, which finds truncated files with at most max_pixels / 64 pixels in
    memory. Raises ImageRejected.
    """
    content_type = _sniffed(data)
    if content_type == "application/pdf":
        with _pdf_first_page(data) as page:
            _check_shape(*_page_pixels(page, PDF_RENDER_DPI / 72), max_pixels)
        return content_type
    with _opened(data, max_pixels) as image:
        try:
            if image.format == "JPEG":
                # At least 1x1: a 1-pixel-wide JPEG would otherwise ask for a 0-pixel draft.
                image.draft("L", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
            elif image.format == "PNG":
                image.verify()
        except _DECODE_ERRORS as exc:
            raise _damaged() from exc
    return content_type


def load_image(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode a receipt (image, or the first page of a PDF) into an upright grayscale image
    of at most MAX_OCR_PIXELS, never holding much more than that in memory.

    Raises ImageRejected for files that cannot be decoded and for images whose declared size
    exceeds `max_pixels` or whose shape MAX_ASPECT_RATIO, before their pixels are decoded.
    """
    if _sniffed(data) == "application/pdf":
        return _render_pdf_first_page(data, max_pixels)
    with _opened(data, max_pixels) as image:
        try:
            if image.format == "JPEG":
                # The DCT decoder can scale down by 2, 4 or 8 while decoding.
                image.draft("L", _fitting(image.size, MAX_OCR_PIXELS))
            orientation = image.getexif().get(_ORIENTATION_TAG, 1)
            image.load()
            # Reduced (a box filter, one small copy) before any other copy is made.
            factor = math.ceil(math.sqrt(image.width * image.height / MAX_OCR_PIXELS))
            reduced = image.reduce(factor) if factor > 1 else image
            gray = _on_white(reduced).convert("L")
        except _DECODE_ERRORS as exc:
            raise _damaged() from exc
    transposition = _EXIF_TRANSPOSITIONS.get(orientation)
    return gray.transpose(transposition) if transposition is not None else gray


def normalise_for_ocr(
    image: Image.Image, enlarge: float = 1.0, faint_print: bool = False
) -> Image.Image:
    """Grayscale on a white background, rescaled only when far outside the engines' range.

    `enlarge` scales the result further (a closer reading of the receipt), within
    MAX_PREPARED_PIXELS. No thresholding by default: Tesseract binarises internally, and an
    adaptive (Sauvola) threshold read these scans no better than its default Otsu threshold.
    `faint_print` thresholds just below the paper's brightness instead (FAINT_PRINT_MARGIN).
    """
    gray = _on_white(image).convert("L")
    width, height = gray.size
    scale = 1.0
    if width < MIN_OCR_WIDTH:
        scale = MIN_OCR_WIDTH / width
    elif width * height > MAX_OCR_PIXELS:
        scale = math.sqrt(MAX_OCR_PIXELS / (width * height))
    scale = min(scale * enlarge, math.sqrt(MAX_PREPARED_PIXELS / (width * height)))
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    if faint_print:
        gray = _threshold_below_paper(gray)
    return gray


def _sniffed(data: bytes) -> str:
    content_type = sniff_content_type(data)
    if content_type is None:
        raise ImageRejected("The file is not a JPEG, PNG, WebP, TIFF or PDF document.")
    return content_type


@contextmanager
def _opened(data: bytes, max_pixels: int) -> Iterator[Image.Image]:
    """Open an image file for its header only, refusing bombs and extreme shapes."""
    with warnings.catch_warnings():
        # Pillow only warns between its own limit and twice that; treat both as a bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected("The image is too large to process.") from exc
        except _DECODE_ERRORS as exc:
            raise _damaged() from exc
    with image:
        _check_shape(*image.size, max_pixels)
        yield image


def _check_shape(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image is too large ({width}x{height} pixels; the limit is {max_pixels} pixels)."
        )
    if width < 1 or height < 1 or max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ImageRejected(
            f"The image's shape ({width}x{height} pixels) is too narrow to be a receipt; "
            f"the sides may differ at most {MAX_ASPECT_RATIO:g} times."
        )


def _damaged() -> ImageRejected:
    return ImageRejected("The image file is damaged or not a supported format.")


def _fitting(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _on_white(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba)
    return image


@contextmanager
def _pdf_first_page(data: bytes) -> Iterator[pdfium.PdfPage]:
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ImageRejected("The PDF document is damaged or password protected.") from exc
    try:
        if len(document) == 0:
            raise ImageRejected("The PDF document has no pages.")
        try:
            page = document[0]
        except pdfium.PdfiumError as exc:
            raise ImageRejected("The PDF document could not be read.") from exc
        yield page
    finally:
        document.close()


def _page_pixels(page: pdfium.PdfPage, scale: float) -> tuple[int, int]:
    width_points, height_points = page.get_size()
    return round(width_points * scale), round(height_points * scale)


def _render_pdf_first_page(data: bytes, max_pixels: int) -> Image.Image:
    with _pdf_first_page(data) as page:
        scale = PDF_RENDER_DPI / 72
        width, height = _page_pixels(page, scale)
        _check_shape(width, height, max_pixels)
        # Render no finer than OCR will use: a poster-sized page comes out receipt-sized.
        scale *= min(1.0, math.sqrt(MAX_OCR_PIXELS / (width * height)))
        try:
            bitmap = page.render(scale=scale, grayscale=True)
        except pdfium.PdfiumError as exc:
            raise ImageRejected("The PDF document could not be rendered.") from exc
        image: Image.Image = bitmap.to_pil()
        return image.convert("L")


def _threshold_below_paper(gray: Image.Image) -> Image.Image:
    """Black for anything a little darker than the paper (the most common grey level)."""
    gray = gray.filter(ImageFilter.GaussianBlur(FAINT_PRINT_BLUR))
    histogram = gray.histogram()
    paper = max(range(256), key=histogram.__getitem__)
    cut = max(1, paper - FAINT_PRINT_MARGIN)
    return gray.point(lambda level: 0 if level < cut else 255)
