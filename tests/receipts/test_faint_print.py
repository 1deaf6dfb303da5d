"""Receipts whose faint print Tesseract's own threshold loses are read a second way."""

from __future__ import annotations

import datetime

from PIL import Image, ImageDraw

from expense_wise.domain.receipts.extraction import extract_from_image
from expense_wise.domain.receipts.images import load_image, normalise_for_ocr
from expense_wise.domain.receipts.ocr import MIN_LEGIBLE_WORDS, legible_word_count, run_ocr
from tests.receipts.conftest import receipt_bytes

# Dot-matrix print on a scan with a dark border: the plain reading finds no words at all.
FAINT_RECEIPT = "faint.jpg"


def faint_scan() -> Image.Image:
    """Light paper, a black border, and text only a little darker than the paper."""
    image = Image.new("L", (600, 400), 242)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 599, 30), fill=0)
    draw.rectangle((40, 80, 120, 100), fill=205)
    return image


def test_faint_print_threshold_keeps_grey_text_and_whitens_the_paper() -> None:
    prepared = normalise_for_ocr(faint_scan(), faint_print=True)

    assert set(prepared.get_flattened_data()) == {0, 255}
    assert prepared.getpixel((80, 90)) == 0  # the faint text
    assert prepared.getpixel((200, 150)) == 255  # the paper
    assert prepared.getpixel((150, 10)) == 0  # the border stays dark


def test_plain_normalisation_leaves_grey_levels_alone() -> None:
    prepared = normalise_for_ocr(faint_scan())

    assert prepared.getpixel((80, 90)) == 205


def test_a_receipt_read_as_empty_is_read_again_for_faint_print() -> None:
    image = load_image(receipt_bytes(FAINT_RECEIPT))
    assert legible_word_count(run_ocr(image)) < MIN_LEGIBLE_WORDS

    fields, readings = extract_from_image(image)

    assert readings >= 2
    assert fields.date == datetime.date(2018, 5, 9)
    assert fields.merchant is not None and "RETAIL" in fields.merchant
