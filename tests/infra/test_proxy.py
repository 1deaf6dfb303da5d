"""`expense-wise serve` behind Debian's nginx, configured as the ingress is.

Clients, proxy and API all live on loopback, on distinct addresses of 127.0.0.0/8: clients
connect from 127.0.0.2 and 127.0.0.3, nginx reaches the API from 127.0.0.4 (`proxy_bind`,
like an ingress pod's own address), and TRUSTED_PROXIES names only that address. nginx
appends the client to X-Forwarded-For (compute-full-forwarded-for), so whatever a client
sends in that header reaches the API too, and only the hop nginx added may count.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import REPO, require
from tests.conftest import create_database, database_url, drop_database

pytestmark = pytest.mark.infra

CLI = REPO / ".venv" / "bin" / "expense-wise"
PROXY_ADDRESS = "127.0.0.4"
AUTH_RATE_LIMIT = 5
PASSWORD = "Proxy-Test-Passphrase-3"

# The ingress's annotations (k8s/base/ingress.yaml) in nginx terms: per-client request and
# connection limits, 12m bodies, 60 s reads, and the forwarded headers.
NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  limit_req_zone $binary_remote_addr zone=rps:1m rate=20r/s;
  limit_conn_zone $binary_remote_addr zone=conns:1m;
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 12m;
    location / {{
      limit_req zone=rps burst=60 nodelay;
      limit_conn conns 20;
      proxy_pass http://127.0.0.1:{api_port};
      proxy_bind {proxy_address};
      proxy_read_timeout 60s;
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _post(
    port: int, path: str, body: dict[str, Any], source: str, headers: dict[str, str] | None = None
) -> int:
    """POST from the given loopback source address; the status code."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(source, 0)
    )
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "the server exited"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        assert time.monotonic() < deadline, f"nothing ready on port {port}"
        time.sleep(0.3)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(nginx port, API port): serve with TRUSTED_PROXIES=127.0.0.4/32 behind nginx."""
    nginx = require("nginx")
    database = create_database("ew_proxy")
    api_port, proxy_port = _free_port(), _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "APP_ENV": "test",
        "DATABASE_URL": database_url(database),
        "DATA_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "WARNING",
        "AUTH_RATE_LIMIT": str(AUTH_RATE_LIMIT),
        "RATE_LIMIT_MAX": "100000",
        "TRUSTED_PROXIES": f"{PROXY_ADDRESS}/32",
    }
    subprocess.run([str(CLI), "migrate"], env=env, check=True, capture_output=True, timeout=120)
    api = subprocess.Popen(
        [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(api_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    work = tmp_path / "nginx"
    work.mkdir()
    (work / "nginx.conf").write_text(
        NGINX_CONF.format(
            work=work, port=proxy_port, api_port=api_port, proxy_address=PROXY_ADDRESS
        )
    )
    proxy = subprocess.Popen(
        [nginx, "-p", str(work), "-c", str(work / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(api_port, api)
        _wait_for(proxy_port, proxy)
        yield proxy_port, api_port
    finally:
        for process in (proxy, api):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_database(database)


def test_rate_limits_count_per_real_client_through_the_proxy(stack: tuple[int, int]) -> None:
    proxy_port, _ = stack
    victim = {"email": f"victim-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    assert _post(proxy_port, "/api/v1/auth/register", {**victim, "name": "V"}, "127.0.0.3") == 201

    # An attacker at 127.0.0.2 burns its login budget, claiming other addresses as it goes.
    attempts = [
        _post(
            proxy_port,
            "/api/v1/auth/login",
            {"email": f"nobody-{n}@example.com", "password": "wrong-password-0"},
            "127.0.0.2",
            {"X-Forwarded-For": f"203.0.113.{n}"},
        )
        for n in range(AUTH_RATE_LIMIT + 1)
    ]
    assert attempts[:AUTH_RATE_LIMIT] == [401] * AUTH_RATE_LIMIT
    assert attempts[-1] == 429

    # Another client behind the same proxy is not locked out.
    assert _post(proxy_port, "/api/v1/auth/login", victim, "127.0.0.3") == 200
    other = {"email": f"other-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    assert _post(proxy_port, "/api/v1/auth/register", {**other, "name": "O"}, "127.0.0.3") == 201


def test_forwarded_for_from_an_untrusted_address_is_ignored(stack: tuple[int, int]) -> None:
    """Straight to the API from 127.0.0.1, which is not in TRUSTED_PROXIES: rotating
    X-Forwarded-For must not escape the per-address limit."""
    _, api_port = stack
    statuses = [
        _post(
            api_port,
            "/api/v1/auth/login",
            {"email": f"spoof-{n}@example.com", "password": "wrong-password-0"},
            "127.0.0.1",
            {"X-Forwarded-For": f"198.51.100.{n}"},
        )
        for n in range(AUTH_RATE_LIMIT + 1)
    ]
    assert statuses[-1] == 429, statuses
