"""schemathesis against the live OpenAPI schema of a real server: no 5xx, and every response
matches the schema it documents."""

from __future__ import annotations

import json
import subprocess
import urllib.request

from tests.conftest import PASSWORD, VENV_BIN, live_server


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


def test_live_schema_holds_under_generated_requests(base_env, tmp_path):
    with live_server(base_env) as (base, _process):
        token = _token(base)
        result = subprocess.run(
            [
                str(VENV_BIN / "schemathesis"),
                "run",
                f"{base}/schema/openapi.json",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--header",
                f"Authorization: Bearer {token}",
                # Deleting the account would turn every later request into a 401.
                "--exclude-operation-id",
                "deleteMe",
                "--max-examples",
                "5",
                # The stateful phase alone takes minutes here; the others cover every operation.
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "20261126",
                "--request-timeout",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "passed" in output.lower()
