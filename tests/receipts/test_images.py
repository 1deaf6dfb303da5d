"""Hostile receipt files cannot blow up the API's or the worker's memory (issue 12, item 3).

The memory figures come from fresh subprocesses (their VmHWM), so what one test decoded
cannot hide what the next one does.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from expense_wise.domain.receipts.images import (
    MAX_OCR_PIXELS,
    MAX_PREPARED_PIXELS,
    ImageRejected,
    load_image,
    normalise_for_ocr,
    probe,
)
from tests.conftest import Account, AppClient
from tests.receipts.conftest import upload

REPO_ROOT = Path(__file__).resolve().parents[2]


def _narrow_pdf(size: int = 330) -> bytes:
    """The red-team's file: a well-formed PDF of `size` bytes (a comment pads it) whose page
    is 3 x 14,400 pt: 8 x 40,000 px at 200 dpi, which the old OCR step enlarged to
    400 x 2,000,000 px."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 3 14400]>>",
    ]

    def build(padding: int) -> bytes:
        out = b"%PDF-1.4\n%" + b"x" * padding + b"\n"
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj " % number + body + b" endobj\n"
        xref = len(out)
        out += b"xref\n0 4\n0000000000 65535 f \n"
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        return out + b"trailer <</Size 4/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % xref

    # The startxref number's width depends on the padding: settle it in two passes.
    padding = size - len(build(0))
    padding -= len(build(padding)) - size
    return build(padding)


NARROW_PDF = _narrow_pdf()


def big_png(path: Path) -> Path:
    """The red-team's file: a 39 Mpx colour PNG of 151 KB (a page with a few lines of print
    compresses to almost nothing)."""
    if not path.exists():
        image = Image.new("RGB", (7000, 5600), "white")
        draw = ImageDraw.Draw(image)
        rng = random.Random(12)
        for line in range(9):
            text = "".join(rng.choice("ABCDEFGHIJ 0123456789.,") for _ in range(60))
            draw.text((300, 200 + line * 80), text, fill="black")
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        path.write_bytes(buffer.getvalue())
    return path


def test_the_hostile_files_are_the_ones_described(tmp_path: Path) -> None:
    assert len(NARROW_PDF) == 330
    png = big_png(tmp_path / "big.png").read_bytes()
    assert 145_000 <= len(png) <= 155_000, len(png)
    with Image.open(io.BytesIO(png)) as image:
        assert image.width * image.height == 39_200_000


def test_a_page_too_narrow_to_be_a_receipt_is_refused_before_rendering() -> None:
    for decode in (probe, load_image):
        with pytest.raises(ImageRejected, match="too narrow"):
            decode(NARROW_PDF)
    thin = io.BytesIO()
    Image.new("L", (10, 2000), 255).save(thin, "PNG")
    with pytest.raises(ImageRejected, match="too narrow"):
        probe(thin.getvalue())


async def test_the_api_refuses_the_narrow_page_with_a_422(
    client: AppClient[Any], alice: Account
) -> None:
    response = await upload(client, alice, NARROW_PDF, filename="narrow.pdf")
    assert response.status_code == 422, response.text
    assert "too narrow" in response.json()["detail"]


@pytest.mark.parametrize(
    ("size", "enlarge"),
    [((20, 500), 2.0), ((100, 2400), 2.0), ((4000, 4000), 2.0), ((300, 300), 1.0)],
)
def test_no_prepared_image_exceeds_the_bound(size: tuple[int, int], enlarge: float) -> None:
    prepared = normalise_for_ocr(Image.new("L", size, 255), enlarge)
    assert prepared.width * prepared.height <= MAX_PREPARED_PIXELS


def test_a_large_jpeg_is_decoded_no_larger_than_ocr_needs() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (6000, 4000), "white").save(buffer, "JPEG")
    image = load_image(buffer.getvalue())
    assert image.mode == "L"
    assert image.width * image.height <= MAX_OCR_PIXELS
    assert image.width / image.height == pytest.approx(1.5, rel=0.01)


def measure(code: str, *args: str) -> dict[str, float]:
    """Run `code` in a fresh interpreter; it prints one JSON object, which is returned."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "OMP_THREAD_LIMIT": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=True,
    )
    result: dict[str, float] = json.loads(completed.stdout.splitlines()[-1])
    return result


# VmHWM, not ru_maxrss: Linux carries a forked child's ru_maxrss over from its parent (here
# the test runner) through exec, while VmHWM belongs to the new process image.
PEAK_RSS = """
import json, sys
from expense_wise.domain.receipts import extraction, images
data = open(sys.argv[1], "rb").read()
def peak():
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024
before = peak()
if sys.argv[2] == "probe":
    images.probe(data)
else:
    extraction.extract(data, sys.argv[2])
print(json.dumps({"before": before, "peak": peak()}))
"""


def test_upload_check_of_a_39_mpx_png_holds_almost_no_memory(tmp_path: Path) -> None:
    rss = measure(PEAK_RSS, str(big_png(tmp_path / "big.png")), "probe")
    # The full decode this replaced took 300 MB in the API process (1.45 GB for 16 uploads).
    assert rss["peak"] - rss["before"] < 30, rss


@pytest.mark.parametrize(("engine", "limit_mb"), [("tesseract", 230), ("rapidocr", 1100)])
def test_worker_peak_memory_on_a_39_mpx_png(tmp_path: Path, engine: str, limit_mb: int) -> None:
    """The decode (117 MB of RGB, unavoidable for a PNG) is reduced at once; the old code
    held several full-size copies and went 300 MB above its start for Tesseract alone."""
    rss = measure(PEAK_RSS, str(big_png(tmp_path / "big.png")), engine)
    print(f"{engine}: peak RSS {rss['peak']:.0f} MB (from {rss['before']:.0f} MB)")
    assert rss["peak"] - rss["before"] < limit_mb, rss


KEEP_READING = """
import sys
from expense_wise.domain.receipts import extraction
data = open(sys.argv[1], "rb").read()
print("reading", flush=True)
while True:
    extraction.extract(data, "tesseract")
"""


def test_a_worker_killed_mid_ocr_leaves_no_temporary_files(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    image = tmp_path / "receipt.png"
    Image.new("L", (1200, 2400), 255).save(image)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "TMPDIR": str(scratch)}
    process = subprocess.Popen(
        [sys.executable, "-c", KEEP_READING, str(image)],
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group: Tesseract dies with it
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"reading\n"
        time.sleep(2.0)  # several Tesseract runs, one of them under way
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert list(scratch.iterdir()) == []


def vm_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0])


async def test_sixteen_concurrent_uploads_of_a_39_mpx_png_keep_the_api_small(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    """The red-team run took the API to 1.45 GB with 16 of these at once (773 MB held
    afterwards) against a 512 Mi pod limit. Measured on a real `expense-wise serve`."""
    import asyncio

    import httpx

    from tests.conftest import PASSWORD, live_server

    png = big_png(tmp_path / "big.png").read_bytes()
    with Image.open(io.BytesIO(png)) as image:
        assert image.width * image.height >= 39_000_000
    with live_server(base_env) as (base, process):
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            email = f"rss-{os.getpid()}@example.com"
            await http.post(
                "/api/v1/auth/register",
                json={"email": email, "password": PASSWORD, "name": "R"},
            )
            login = await http.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

            async def send(copy: int) -> int:
                # Bytes after IEND make each copy a new file (identical ones are refused as
                # duplicates); decoders ignore them.
                files = {"file": ("big.png", png + str(copy).encode(), "image/png")}
                response = await http.post("/api/v1/receipts", files=files, headers=headers)
                return response.status_code

            assert await send(0) == 202  # warmed up: imports, pools, first allocations
            before = vm_kib(process.pid, "VmHWM") / 1024
            statuses = await asyncio.gather(*(send(copy) for copy in range(1, 17)))
            assert statuses == [202] * 16
            peak = vm_kib(process.pid, "VmHWM") / 1024
            held = vm_kib(process.pid, "VmRSS") / 1024
    print(f"API peak RSS {peak:.0f} MB (from {before:.0f} MB), {held:.0f} MB held after")
    assert peak - before < 100, (before, peak)
    assert peak < 400, peak  # well inside the 512 Mi pod limit
