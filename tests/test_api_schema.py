"""schemathesis against the live OpenAPI schema of a real server (PostgreSQL and Redis), with
every check on: the server accepts what the schema allows, refuses what it does not, and
answers as documented. The only exceptions are listed, with reasons, in schemathesis.toml."""

from __future__ import annotations

import json
import subprocess
import urllib.request

from scripts.export_openapi import SNAPSHOT
from tests.conftest import PASSWORD, REPO_ROOT, VENV_BIN, live_server


def _token(base: str) -> str:
    def post(path: str, body: dict[str, str]) -> dict[str, str]:
        request = urllib.request.Request(
            base + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    post("/api/v1/auth/register", {"email": "fuzz@example.com", "password": PASSWORD})
    return post("/api/v1/auth/login", {"email": "fuzz@example.com", "password": PASSWORD})[
        "access_token"
    ]


def _schemathesis(base: str, token: str, cwd, *phases: str) -> str:
    result = subprocess.run(
        [
            str(VENV_BIN / "schemathesis"),
            "--config-file",
            str(REPO_ROOT / "schemathesis.toml"),
            "run",
            f"{base}/schema/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            "5",
            "--phases",
            ",".join(phases),
            "--seed",
            "20261126",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert "passed" in output.lower()
    return output


def test_live_schema_holds_under_generated_requests(base_env, tmp_path):
    with live_server(base_env) as (base, _process):
        with urllib.request.urlopen(f"{base}/schema/openapi.json", timeout=10) as response:
            assert json.loads(response.read()) == json.loads(SNAPSHOT.read_text())
        token = _token(base)
        _schemathesis(base, token, tmp_path, "examples", "coverage", "fuzzing")


def test_stateful_runs_follow_the_links(base_env, tmp_path):
    """Create, then read, change and delete what was created, along the schema's links."""
    base_env["ACCESS_TOKEN_TTL"] = "1h"
    with live_server(base_env) as (base, _process):
        token = _token(base)
        output = _schemathesis(base, token, tmp_path, "stateful")
    assert "Stateful" in output
