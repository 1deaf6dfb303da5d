"""The README's first steps, run as written against a live `make run` equivalent."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

from tests.conftest import live_server

ROOT = Path(__file__).resolve().parent.parent


def readme_curl_example() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"Try it with curl once `make run` is up:\n\n```sh\n(.*?)```", readme, re.S)
    assert match, "the README's curl example moved: update this test"
    return match.group(1)


def json_documents(text: str) -> list[dict]:
    """The JSON bodies curl printed one after another (without newlines between them)."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
        while position < len(text) and text[position].isspace():
            position += 1
    return documents


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_readme_curl_example_works_as_written(sqlite_env):
    script = readme_curl_example()
    assert "examples/receipt.jpg" in script
    assert (ROOT / "examples" / "receipt.jpg").is_file()
    with live_server(sqlite_env) as (base, _process):
        host = base.removeprefix("http://")
        # Every command as printed, from the checkout's root, stopping at the first failure
        # (curl fails on a file that does not exist); then the token, to follow the receipt.
        result = subprocess.run(
            [
                "bash",
                "-e",
                "-o",
                "pipefail",
                "-c",
                script.replace("localhost:8000", host) + '\nprintf "\\n%s\\n" "$TOKEN"\n',
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        bodies, token = result.stdout.strip().rsplit("\n", 1)
        registered, _expense, listed, uploaded = json_documents(bodies)
        assert registered["email"] == "ada@example.com"
        assert [item["merchant"] for item in listed["items"]] == ["Corner Cafe"]
        assert uploaded["status"] == "pending", uploaded
        deadline = time.monotonic() + 90
        receipt = uploaded
        while receipt["status"] in ("pending", "processing") and time.monotonic() < deadline:
            time.sleep(0.5)
            receipt = get_json(f"{base}/api/v1/receipts/{uploaded['id']}", token)
    assert receipt["status"] == "done", receipt
    assert Decimal(receipt["extracted"]["total"]) == Decimal("12.50")
    assert receipt["extracted"]["date"] == "2024-05-01"
    assert "CORNER CAFE" in (receipt["extracted"]["merchant"] or "").upper()
