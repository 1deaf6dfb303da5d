"""Render the synthetic receipts under tests/data/receipts, with their ground truth, and
the README's sample receipt examples/receipt.jpg.

    .venv/bin/python scripts/make_test_receipts.py            # tests/data/receipts
    .venv/bin/python scripts/make_test_receipts.py example    # examples/receipt.jpg

The receipt tests run on these, so that they run wherever the repository is checked out
(the scanned receipts of ../shared are for the benchmarks). Shops, addresses and numbers
are invented. Each receipt is drawn as a till prints it (a monospaced font, labels on the
left and amounts on the right), then made to look scanned: a little blur, paper grain,
JPEG compression; one is printed faint on a scan with a dark border, one is tilted. The
output is committed; run this again only to change the set (it needs the DejaVu fonts,
Debian's fonts-dejavu-core).
"""

from __future__ import annotations

import io
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "receipts"
EXAMPLE_OUT = ROOT / "examples" / "receipt.jpg"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
WIDTH = 620
MARGIN = 28
COLUMNS = 40


@dataclass
class Receipt:
    name: str
    merchant: str
    date_iso: str
    total: str
    header: list[str]  # centred lines; the first ones in bold
    bold_lines: int
    body: list[tuple[str, str]]  # (left, right) rows; right may be ""
    footer: list[str] = field(default_factory=list)
    ink: int = 20
    paper: int = 238
    border: bool = False
    tilt: float = 0.0
    fmt: str = "JPEG"


RECEIPTS = [
    Receipt(
        name="trading",
        merchant="CAHAYA TIMUR TRADING CO",
        date_iso="2017-12-29",
        total="14.10",
        header=[
            "CAHAYA TIMUR TRADING CO",
            "(742016-W)",
            "67, JALAN MEWAH 25/63",
            "TAMAN SRI MUDA, 40400 SHAH ALAM",
            "TEL: 03-5121 3881",
            "GST NO: 001006288896",
            "TAX INVOICE",
        ],
        bold_lines=1,
        body=[
            ("SUPER GLUE TWIN 1 X 5.20", "5.20"),
            ("A4 COLOUR PAPER 1 X 8.90", "8.90"),
            ("", ""),
            ("TOTAL RM", "14.10"),
            ("CASH RM", "20.00"),
            ("CHANGE RM", "5.90"),
            ("", ""),
            ("GST SUMMARY  AMOUNT  TAX", ""),
            ("SR 6%        13.30", "0.80"),
        ],
        footer=["THANK YOU FOR SHOPPING", "29-12-2017  TIME 20:17", "INV: R000721136"],
    ),
    Receipt(
        name="minimart",
        merchant="SEGAR MINIMARKET SDN BHD",
        date_iso="2018-03-10",
        total="27.55",
        header=[
            "SEGAR MINIMARKET SDN BHD",
            "CO. REG NO: 1012345-A",
            "LOT 12, JALAN BUNGA RAYA",
            "81100 JOHOR BAHRU, JOHOR",
        ],
        bold_lines=1,
        body=[
            ("DATE: 10/03/2018", "11:02"),
            ("CASHIER: AMINAH", ""),
            ("", ""),
            ("BREAD WHOLEMEAL", "4.20"),
            ("FRESH MILK 1L", "7.40"),
            ("EGGS GRADE A 10S", "6.90"),
            ("RICE 5KG", "7.49"),
            ("", ""),
            ("SUBTOTAL", "25.99"),
            ("GST 6%", "1.56"),
            ("ROUNDING", "0.00"),
            ("TOTAL", "27.55"),
            ("CASH", "30.00"),
            ("CHANGE", "2.45"),
        ],
        footer=["GOODS SOLD ARE NOT RETURNABLE"],
    ),
    Receipt(
        name="cafe",
        merchant="KOPI CORNER CAFE (M) SDN BHD",
        date_iso="2019-01-05",
        total="31.00",
        header=[
            "KOPI CORNER CAFE (M) SDN BHD",
            "(889911-K)",
            "NO. 3, JALAN TELAWI 2",
            "BANGSAR, 59100 KUALA LUMPUR",
        ],
        bold_lines=1,
        body=[
            ("TABLE 7     PAX 2", ""),
            ("05/01/2019 13:45", ""),
            ("", ""),
            ("NASI LEMAK AYAM 2 X 9.50", "19.00"),
            ("TEH TARIK 2 X 3.00", "6.00"),
            ("KUIH 2 X 1.70", "3.40"),
            ("", ""),
            ("SUB TOTAL", "28.40"),
            ("SERVICE CHARGE 10%", "2.60"),
            ("GRAND TOTAL", "31.00"),
            ("VISA", "31.00"),
        ],
        footer=["THANK YOU, PLEASE COME AGAIN"],
        fmt="PNG",
    ),
    Receipt(
        name="hardware",
        merchant="AIK HUAT HARDWARE ENTERPRISE",
        date_iso="2018-03-21",
        total="1234.50",
        header=[
            "AIK HUAT HARDWARE",
            "ENTERPRISE",
            "(JM0152345-T)",
            "NO. 8, JALAN PERMAS 10",
            "81750 MASAI, JOHOR",
        ],
        bold_lines=2,
        body=[
            ("INVOICE NO: 55021", ""),
            ("DATE: 21 MAR 2018", ""),
            ("", ""),
            ("CEMENT 50KG 20 X 25.00", "500.00"),
            ("STEEL BAR 12MM 30 X 20.50", "615.00"),
            ("NAILS 3IN 10 X 11.95", "119.50"),
            ("", ""),
            ("TOTAL AMOUNT PAYABLE", "1,234.50"),
            ("CHEQUE", "1,234.50"),
        ],
        footer=["GOODS SOLD ARE NOT REFUNDABLE"],
    ),
    Receipt(
        name="faint",
        merchant="SINAR RETAIL SDN BHD",
        date_iso="2018-05-09",
        total="18.60",
        header=[
            "SINAR RETAIL SDN BHD",
            "(1042233-P)",
            "NO 5 JALAN PASAR BARU",
            "43000 KAJANG SELANGOR",
        ],
        bold_lines=1,
        body=[
            ("DATE 09/05/2018  TIME 10:31", ""),
            ("", ""),
            ("SOAP BAR 3 X 2.20", "6.60"),
            ("TOOTHPASTE", "7.50"),
            ("SPONGE 3 X 1.50", "4.50"),
            ("", ""),
            ("TOTAL", "18.60"),
            ("CASH", "20.00"),
            ("CHANGE", "1.40"),
        ],
        footer=["THANK YOU"],
        ink=196,
        paper=236,
        border=True,
    ),
    Receipt(
        name="tilted",
        merchant="BAKERI MANIS ENTERPRISE",
        date_iso="2018-07-14",
        total="12.80",
        header=[
            "BAKERI MANIS ENTERPRISE",
            "(SA0223344-U)",
            "12 JALAN SS2/24",
            "47300 PETALING JAYA",
        ],
        bold_lines=1,
        body=[
            ("14-07-2018 08:12", ""),
            ("", ""),
            ("CROISSANT 2 X 3.90", "7.80"),
            ("KOPI O", "2.50"),
            ("ROTI KAYA", "2.50"),
            ("", ""),
            ("TOTAL", "12.80"),
            ("CASH", "50.00"),
            ("CHANGE", "37.20"),
        ],
        tilt=1.5,
    ),
]


# The receipt of the README's curl example (the expense it creates by hand is the same one).
EXAMPLE = Receipt(
    name="receipt",
    merchant="CORNER CAFE",
    date_iso="2024-05-01",
    total="12.50",
    header=["CORNER CAFE", "1 MARKET STREET", "SPRINGFIELD"],
    bold_lines=1,
    body=[
        ("DATE: 01/05/2024", "08:41"),
        ("", ""),
        ("FLAT WHITE 2 X 3.80", "7.60"),
        ("CROISSANT", "3.20"),
        ("ORANGE JUICE", "1.70"),
        ("", ""),
        ("TOTAL", "12.50"),
        ("CARD", "12.50"),
    ],
    footer=["THANK YOU"],
)


def row(left: str, right: str) -> str:
    return left + right.rjust(COLUMNS - len(left)) if right else left


def render(receipt: Receipt, rng: random.Random) -> bytes:
    font = ImageFont.truetype(FONT, 24)
    bold = ImageFont.truetype(BOLD, 26)
    lines: list[tuple[str, ImageFont.FreeTypeFont, bool]] = [
        (text, bold if i < receipt.bold_lines else font, True)
        for i, text in enumerate(receipt.header)
    ]
    lines.append(("", font, False))
    lines += [(row(left, right), font, False) for left, right in receipt.body]
    lines.append(("", font, False))
    lines += [(text, font, True) for text in receipt.footer]
    height = 2 * MARGIN + 34 * len(lines)
    page = Image.new("L", (WIDTH, height), receipt.paper)
    draw = ImageDraw.Draw(page)
    y = MARGIN
    for text, face, centred in lines:
        width = draw.textlength(text, font=face)
        x = (WIDTH - width) / 2 if centred else MARGIN
        draw.text((x, y), text, fill=receipt.ink, font=face)
        y += 34
    if receipt.tilt:
        page = page.rotate(receipt.tilt, resample=Image.Resampling.BICUBIC, fillcolor=receipt.paper)
    grain = Image.effect_noise(page.size, 10).point(lambda v: v - 128)
    page = Image.blend(page, Image.merge("L", [grain]), 0.04).filter(ImageFilter.GaussianBlur(0.6))
    if receipt.border:
        # A dark scanner border pulls Tesseract's global threshold below the faint print.
        framed = Image.new("L", (page.width + 80, page.height + 80), 15)
        framed.paste(page, (40, 40))
        page = framed
    buffer = io.BytesIO()
    if receipt.fmt == "JPEG":
        page.save(buffer, "JPEG", quality=75)
    else:
        page.save(buffer, "PNG")
    _ = rng
    return buffer.getvalue()


def main() -> None:
    if sys.argv[1:] == ["example"]:
        EXAMPLE_OUT.parent.mkdir(parents=True, exist_ok=True)
        EXAMPLE_OUT.write_bytes(render(EXAMPLE, random.Random(15)))
        print(f"wrote {EXAMPLE_OUT}")
        return
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(15)
    for receipt in RECEIPTS:
        suffix = ".jpg" if receipt.fmt == "JPEG" else ".png"
        (OUT / f"{receipt.name}{suffix}").write_bytes(render(receipt, rng))
        truth = {"merchant": receipt.merchant, "date_iso": receipt.date_iso, "total": receipt.total}
        (OUT / f"{receipt.name}.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(f"wrote {len(RECEIPTS)} receipts to {OUT}")


if __name__ == "__main__":
    main()
