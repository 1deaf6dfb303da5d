"""Receipt decoding, OCR and field extraction.

The parsing rules are tested on synthetic OCR text; the rendered sample receipts of
tests/data/receipts check the whole pipeline with each real engine.
"""

from __future__ import annotations

import datetime
import io
import json
import struct
import zlib
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from PIL import Image

from expense_wise.domain.receipts.extraction import (
    ExtractedFields,
    extract,
    extract_fields,
    fields_needing_second_look,
    merchant_matches,
    merge_second_look,
)
from expense_wise.domain.receipts.images import ImageRejected, load_image, sniff_content_type
from expense_wise.domain.receipts.ocr import OcrResult
from expense_wise.settings import OcrEngine
from tests.conftest import RECEIPTS_DIR


def fields_from_text(text: str) -> ExtractedFields:
    return extract_fields(OcrResult(text=text, words=[], image_width=0, image_height=0))


# --- totals -------------------------------------------------------------------------------


def test_total_ignores_subtotal_tax_cash_and_change() -> None:
    fields = fields_from_text(
        "SUBTOTAL 25.50\nGST 6% 1.53\nROUNDING -0.03\nTOTAL 27.00\nCASH 50.00\nCHANGE 23.00"
    )
    assert fields.total == Decimal("27.00")


def test_rounded_total_wins_over_unrounded_total() -> None:
    fields = fields_from_text(
        "TOTAL RM 33, 92\nROUNDING ADJUSTMENT -RM 0.02\nTOTAL ROUNDED RM 33,90\nCASH RM 50.00"
    )
    assert fields.total == Decimal("33.90")


def test_grand_total_with_thousands_separator() -> None:
    fields = fields_from_text("Sub Total 1,200.00\nService Charge 34.56\nGRAND TOTAL 1,234.56")
    assert fields.total == Decimal("1234.56")


def test_total_tolerates_ocr_letter_digit_confusion() -> None:
    fields = fields_from_text("ITEM A 4.50\nT0TAL : 1O.5O\nCASH 20.00\nCHANGE 9.50")
    assert fields.total == Decimal("10.50")


def test_total_quantity_and_tax_summary_are_not_the_total() -> None:
    fields = fields_from_text(
        "Total Qty: 3\nTotal Amount Payable: 21.20\nCash 21.20\n"
        "GST SUMMARY Amount Tax\nSR 6% 20.00 1.20\nTotal: 20.00 1.20"
    )
    assert fields.total == Decimal("21.20")


def test_total_label_without_amount_falls_back_to_cash_minus_change() -> None:
    fields = fields_from_text("Grand Total obs, ' 00\nCash RM50.00\nChange RM11.00")
    assert fields.total == Decimal("39.00")


def test_no_amounts_means_no_total() -> None:
    fields = fields_from_text("THANK YOU\nPLEASE COME AGAIN")
    assert fields.total is None
    assert fields.confidence["total"] == 0.0


def test_amount_payable_after_abbreviated_amount_is_a_final_total() -> None:
    fields = fields_from_text(
        "Total Amt Incl. GST @6%: 86.80\nRounding Adjustment: 0.00\nTotal Amt Payable: 84.80"
    )
    assert fields.total == Decimal("84.80")


@pytest.mark.parametrize("adjustment", ["-.02", "RM 02", "-,02"])
def test_rounding_adjustment_without_its_leading_zero(adjustment: str) -> None:
    fields = fields_from_text(
        f"Total Sales (Inclusive GST) RM 45.67\nRounding Adjustment {adjustment}\nTHANK YOU"
    )
    assert fields.total == Decimal("45.65")


def test_cash_minus_change_outweighs_a_weaker_label() -> None:
    # The TOTAL line lost a digit to OCR; the subtotal agrees with what was paid.
    fields = fields_from_text("SUBTOTAL 18.40\nTOTAL 78.40\nCASH 20.00\nCHANGE 1.60")
    assert fields.total == Decimal("18.40")


def test_total_far_below_the_subtotal_loses() -> None:
    fields = fields_from_text(
        "Sub Total: 58.30\nGST 6%: 3.50\nTotal Incl. GST: 61.80\nTotal Payable: 7.25"
    )
    assert fields.total == Decimal("61.80")


def test_negative_subtotal_of_returns_does_not_make_the_total_look_small() -> None:
    fields = fields_from_text("Sub Total (returns): -15.00\nTotal Payable: 5.50")
    assert fields.total == Decimal("5.50")
    assert fields_needing_second_look(fields) == {"date"}


def test_total_that_lost_its_leading_digits_is_restored_from_the_subtotal_and_tax() -> None:
    fields = fields_from_text("SUB-TOTAL 42.00\nGST 6% 2.52\nROUNDING -0.02\nNET TOTAL 4.50")
    assert fields.total == Decimal("44.50")


def test_tax_included_in_the_total_is_not_added_to_the_subtotal() -> None:
    fields = fields_from_text(
        "SUB-TOTAL 31.80\nTOTAL 31.80\nGST @6% INCLUDED IN TOTAL 1.80\nCASH 31.80"
    )
    assert fields.total == Decimal("31.80")


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Date: 25/12/2018 8:13:39 PM", datetime.date(2018, 12, 25)),
        ("12-01-19 21:13 SH01", datetime.date(2019, 1, 12)),
        ("Date 25.12.2018", datetime.date(2018, 12, 25)),
        ("2018-03-18 13:21:02", datetime.date(2018, 3, 18)),
        ("27 Mar 2018 18:48", datetime.date(2018, 3, 27)),
        ("DATE: 02/JAN/2017", datetime.date(2017, 1, 2)),
        ("OCT 3, 2016 10:02", datetime.date(2016, 10, 3)),
        ("ORD #18 -REG #19- 21/03/2018 19:53:23", datetime.date(2018, 3, 21)),
        ("Date : O4/O6/2O18", datetime.date(2018, 6, 4)),
        ("12/25/2018 10:00", datetime.date(2018, 12, 25)),  # month first when day-first is invalid
        ("CHK #12- 07/05/2018 13:02:44", datetime.date(2018, 5, 7)),  # "12- 07/05" is no date
        ("Date: 2170572018", datetime.date(2018, 5, 21)),  # slashes read as 7
        ("Date: 0910312017", datetime.date(2017, 3, 9)),  # slashes read as 1
        ("Date : 12-03-2)18 10:15:44", datetime.date(2018, 3, 12)),  # the 0 of 2018 read as ")"
        ("Date: 10-03-201823:03:06", datetime.date(2018, 3, 10)),  # glued to the time
        ("2018-03-1023:03", datetime.date(2018, 3, 10)),
    ],
)
def test_date_formats(line: str, expected: datetime.date) -> None:
    assert fields_from_text(f"SHOP\n{line}\nTOTAL 5.00").date == expected


def test_implausible_dates_are_rejected() -> None:
    fields = fields_from_text("Tel 45/13/2099\nRef 99-99-99")
    assert fields.date is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Date: 05/61/2018 11:44", datetime.date(2018, 1, 5)),  # month 01 read as 61
        ("Date: 04/42/2017", datetime.date(2017, 12, 4)),  # month 12 read as 42
        ("Date > 45/05/2017 10:49:40 AM", datetime.date(2017, 5, 15)),  # day 15 read as 45
        ("Date: 30/09/2617", datetime.date(2017, 9, 30)),  # year 2017 read as 2617
        ("41 Jun 2018 18:32", datetime.date(2018, 6, 11)),  # day 11 read as 41
    ],
)
def test_dates_with_a_misread_digit_are_repaired(line: str, expected: datetime.date) -> None:
    assert fields_from_text(f"SHOP\n{line}\nTOTAL 5.00").date == expected


def test_a_valid_date_beats_a_repaired_one() -> None:
    fields = fields_from_text("Ref 05/61/2018\n12/03/2018 10:11\nTOTAL 3.00")
    assert fields.date == datetime.date(2018, 3, 12)


def test_labelled_date_beats_other_dates() -> None:
    fields = fields_from_text("Printed 01/01/2019\nDate: 25/12/2018 10:11\nTOTAL 3.00")
    assert fields.date == datetime.date(2018, 12, 25)


def test_a_time_written_with_dots_counts_as_a_time() -> None:
    fields = fields_from_text(
        "Date : 05/07/2018 14.22.10\nTOTAL 3.00\nDate printed 05/07/2016 14:25:03"
    )
    assert fields.date == datetime.date(2018, 7, 5)


# --- second look ---------------------------------------------------------------------------


def test_second_look_only_for_missing_date_or_doubtful_total() -> None:
    sure = fields_from_text("SHOP\nDate: 25/12/2018\nTOTAL 27.00\nCASH 50.00\nCHANGE 23.00")
    assert fields_needing_second_look(sure) == frozenset()
    no_date = fields_from_text("SHOP\nTOTAL 27.00")
    assert fields_needing_second_look(no_date) == {"date"}
    unlabelled_total = fields_from_text("SHOP\nDate: 25/12/2018\nCOFFEE 4.50")
    assert fields_needing_second_look(unlabelled_total) == {"total"}
    nothing = fields_from_text("SHOP")
    assert fields_needing_second_look(nothing) == {"date", "total"}


def test_a_date_in_the_future_needs_a_second_look() -> None:
    first = fields_from_text("SHOP\nDate: 25/12/2028\nTOTAL 27.00\nCASH 50.00\nCHANGE 23.00")
    today = datetime.date(2026, 1, 10)
    assert fields_needing_second_look(first, today) == {"date"}
    second = fields_from_text("SHOP\nDate: 25/12/2025\nTOTAL 27.00")

    merged = merge_second_look(first, second, frozenset({"date"}), today)

    assert merged.date == datetime.date(2025, 12, 25)
    assert fields_needing_second_look(first, datetime.date(2029, 1, 1)) == frozenset()


@pytest.mark.parametrize(
    "text",
    [
        "Total Incl GST: 465.00\nVISA 165.00",  # less was paid than the total
        "Total Amt Incl. GST: 166.00\nTotal Amt Payable: 156.00",  # two final totals disagree
        "Sub Total: 58.30\nTotal Payable: 5.83",  # far below the subtotal
        "SUB TOTAL 295.00\nSERVICE CHARGE 10% 29.50",  # only the subtotal was readable
        "SUBTOTAL 20.00\nCASH 500.00\nCHANGE 0.05",  # cash misread: 499.95 is no total of 20
    ],
)
def test_a_total_the_other_amounts_contradict_needs_a_second_look(text: str) -> None:
    fields = fields_from_text(f"SHOP\nDate: 25/12/2018\n{text}")
    assert fields_needing_second_look(fields) == {"total"}


def test_second_look_fills_only_the_doubtful_fields() -> None:
    first = fields_from_text("GOOD SHOP SDN BHD\nCOFFEE 4.50\nTOTAL 9.00")
    second = fields_from_text("BAD READING\nDate: 25/12/2018\nTOTAL 8.00")

    merged = merge_second_look(first, second, fields_needing_second_look(first))

    assert merged.date == datetime.date(2018, 12, 25)
    assert merged.total == Decimal("9.00")  # the first reading's total was not in doubt
    assert merged.merchant == "GOOD SHOP SDN BHD"
    assert merged.raw_text == first.raw_text


def test_second_look_replaces_a_fallback_total_with_a_labelled_one() -> None:
    first = fields_from_text("SHOP\nCOFFEE 4.50\nT0T@L 8.0O")
    second = fields_from_text("SHOP\nCOFFEE 4.50\nTOTAL 8.00")

    merged = merge_second_look(first, second, fields_needing_second_look(first))

    assert merged.total == Decimal("8.00")


# --- merchant and currency ----------------------------------------------------------------


def test_merchant_is_the_company_line_above_the_address() -> None:
    fields = fields_from_text(
        "tan woon yann\nMR D.I.Y. (JOHOR) SDN BHD (CO.REG :933109-X)\n"
        "LOT 1851-A & 1851-B, JALAN KPB 6,\n43300 SERI KEMBANGAN, SELANGOR\nTOTAL 3.00"
    )
    assert fields.merchant == "MR D.I.Y. (JOHOR) SDN BHD"


def test_merchant_name_wrapped_over_two_lines_is_joined() -> None:
    fields = fields_from_text(
        "TAX INVOICE\nPOPULAR BOOK\nCO. (M) SDN BHD\n(CO. REG NO: 113825-W)\n"
        "NO. 8, JALAN 7/118B, DESA TUN RAZAK\nTOTAL 9.00"
    )
    assert fields.merchant == "POPULAR BOOK CO. (M) SDN BHD"


def test_merchant_suffix_misread_by_ocr_is_normalised() -> None:
    fields = fields_from_text("WESTERN EASTERN STATIONERY SON. BH0\nNO. 3, JALAN 1\nTOTAL 1.00")
    assert fields.merchant == "WESTERN EASTERN STATIONERY SDN BHD"


def test_currency_from_rm_marker() -> None:
    fields = fields_from_text("SHOP\nTOTAL (RM) 12.00")
    assert fields.currency == "MYR"
    assert 0 < fields.confidence["currency"] <= 1


def test_unknown_currency_is_none() -> None:
    assert fields_from_text("SHOP\nTOTAL 12.00").currency is None


def test_extracted_fields_serialise_to_json() -> None:
    fields = fields_from_text("ABC TRADING\nDate: 09/01/2019\nTOTAL RM 31.00")
    decoded = json.loads(msgspec.json.encode(fields))
    assert decoded["total"] == "31.00"
    assert decoded["date"] == "2019-01-09"
    assert set(decoded["confidence"]) == {"merchant", "date", "total", "currency"}


# --- decoding -----------------------------------------------------------------------------


def encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("image_format", "content_type"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("WEBP", "image/webp"),
        ("TIFF", "image/tiff"),
        ("PDF", "application/pdf"),
    ],
)
def test_sniff_and_decode_each_format(image_format: str, content_type: str) -> None:
    data = encoded(Image.new("RGB", (100, 50), "white"), image_format)
    assert sniff_content_type(data) == content_type
    image = load_image(data)
    if image_format == "PDF":
        # A 100x50 pt page rendered at 200 dpi.
        assert image.size == (278, 139)
    else:
        assert image.size == (100, 50)


def test_sniff_unknown_bytes() -> None:
    assert sniff_content_type(b"GIF89a......") is None
    assert sniff_content_type(b"") is None


def test_exif_orientation_is_applied() -> None:
    image = Image.new("L", (40, 20), 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert load_image(buffer.getvalue()).size == (20, 40)


def png_declaring_size(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims another size (what a decompression bomb looks like)."""
    data = bytearray(encoded(Image.new("L", (1, 1)), "PNG"))
    ihdr_start = 8 + 4  # signature, chunk length
    data[ihdr_start + 4 : ihdr_start + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr_start : ihdr_start + 17]))
    data[ihdr_start + 17 : ihdr_start + 21] = struct.pack(">I", crc)
    return bytes(data)


def test_bomb_header_is_rejected_before_decoding() -> None:
    with pytest.raises(ImageRejected, match="too large"):
        load_image(png_declaring_size(100_000, 100_000))


def test_pillow_bomb_error_becomes_image_rejected() -> None:
    # Above our generous cap, Pillow's own limit still applies and must not leak out.
    with pytest.raises(ImageRejected):
        load_image(png_declaring_size(20_000, 20_000), max_pixels=10**12)


def test_image_over_the_pixel_cap_is_rejected() -> None:
    data = encoded(Image.new("L", (2000, 1000), 255), "PNG")
    with pytest.raises(ImageRejected):
        load_image(data, max_pixels=1_000_000)
    assert load_image(data, max_pixels=2_000_000).size == (2000, 1000)


@pytest.mark.parametrize(
    "data",
    [
        b"this is not an image",
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,  # JPEG magic, garbage body
        encoded(Image.new("L", (200, 200), 128), "PNG")[:60],  # truncated
        b"%PDF-1.4 broken",
    ],
)
def test_undecodable_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        load_image(data)


# --- whole receipts, real engines ---------------------------------------------------------

SAMPLES = sorted(p for p in RECEIPTS_DIR.iterdir() if p.suffix in (".jpg", ".png"))


# Every sample with Tesseract and with the cascade; RapidOCR alone (4x Tesseract's CPU) on
# the two hardest.
ENGINE_CASES = [
    *((path, engine) for engine in ("tesseract", "auto") for path in SAMPLES),
    *((path, "rapidocr") for path in SAMPLES if path.stem in ("faint", "tilted")),
]


@pytest.mark.parametrize(
    ("image_path", "engine"), ENGINE_CASES, ids=[f"{p.stem}-{e}" for p, e in ENGINE_CASES]
)
def test_sample_receipt_is_read_right(image_path: Path, engine: OcrEngine) -> None:
    truth = json.loads(image_path.with_suffix(".json").read_text())

    fields = extract(image_path.read_bytes(), engine)

    assert fields.total == Decimal(truth["total"])
    assert fields.date == datetime.date.fromisoformat(truth["date_iso"])
    assert merchant_matches(fields.merchant, truth["merchant"]), fields.merchant
    assert fields.currency in ("MYR", None)
    assert "TOTAL" in fields.raw_text.upper()


def test_the_sample_set_is_there() -> None:
    assert len(SAMPLES) >= 6
