"""Slow clients against the real `expense-wise serve` over raw sockets: a connection that
trickles its headers or its body a byte a second is closed within the configured deadline,
while normal requests are unaffected."""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

from tests.conftest import live_server

HEADER_TIMEOUT = 2
BODY_TIMEOUT = 3
# Scheduling slack on a busy machine.
SLACK = 1.5


def connect(base: str) -> socket.socket:
    address = urlsplit(base)
    return socket.create_connection((address.hostname, address.port), timeout=5)


def closed_by_server(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        while chunk := sock.recv(65536, socket.MSG_DONTWAIT):
            del chunk  # a 408 may come first; the close follows
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def trickle(
    base: str, prefix: bytes, payload: bytes, connections: int, limit: float
) -> list[float]:
    """Open `connections` sockets, send `prefix` at once, then `payload` a byte a second on
    each; returns the seconds after which the server closed each one (fails past `limit`)."""
    sockets = [connect(base) for _ in range(connections)]
    started = time.monotonic()
    closed_after: dict[int, float] = {}
    try:
        for sock in sockets:
            sock.sendall(prefix)
        for byte in payload:
            for index, sock in enumerate(sockets):
                if index in closed_after:
                    continue
                if closed_by_server(sock):
                    closed_after[index] = time.monotonic() - started
                    continue
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed_after[index] = time.monotonic() - started
            if len(closed_after) == connections or time.monotonic() - started > limit:
                break
            time.sleep(1)
        deadline = started + limit
        while len(closed_after) < connections and time.monotonic() < deadline:
            for index, sock in enumerate(sockets):
                if index not in closed_after and closed_by_server(sock):
                    closed_after[index] = time.monotonic() - started
            time.sleep(0.05)
    finally:
        for sock in sockets:
            sock.close()
    assert len(closed_after) == connections, f"still open after {limit} s: {closed_after}"
    return sorted(closed_after.values())


def test_slow_headers_and_bodies_are_cut_off_and_normal_requests_are_not(
    sqlite_env: dict[str, str],
) -> None:
    env = {
        **sqlite_env,
        "SERVER_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "SERVER_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    with live_server(env) as (base, _process):
        host = urlsplit(base).netloc.encode()
        headers = b"GET /health HTTP/1.1\r\nHost: " + host + b"\r\nX-Padding: " + b"a" * 40
        slow_headers = trickle(base, b"", headers, 16, HEADER_TIMEOUT + SLACK)
        assert max(slow_headers) <= HEADER_TIMEOUT + SLACK, slow_headers

        # A connection that is opened and then sends nothing.
        silent = trickle(base, b"", b"", 4, HEADER_TIMEOUT + SLACK)
        assert max(silent) <= HEADER_TIMEOUT + SLACK, silent

        body = b'{"email": "slow@example.com", "password": "' + b"p" * 40 + b'"}'
        request = (
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: " + host + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        slow_bodies = trickle(base, request, body, 16, BODY_TIMEOUT + SLACK)
        assert max(slow_bodies) <= BODY_TIMEOUT + SLACK, slow_bodies

        # A normal client, keeping its connection for a second request, is served.
        with connect(base) as sock:
            for _ in range(2):
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
                response = b""
                while b"\r\n\r\n" not in response or not response.endswith(b"}"):
                    response += sock.recv(65536)
                assert response.startswith(b"HTTP/1.1 200 ")
