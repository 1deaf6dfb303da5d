"""Does POST /api/v1/auth/password-reset take longer for an address that has an account?

Registers one account on a running API, then sends reset requests for that address and for
unknown addresses, interleaved in random order over one keep-alive connection, and prints the
latency of each kind. Run the server with a high AUTH_RATE_LIMIT (the requests would otherwise
be refused after 10 a minute):

    AUTH_RATE_LIMIT=100000 expense-wise serve --port 8000 &
    python scripts/reset_timing.py http://127.0.0.1:8000 --requests 300
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import time
import urllib.parse
import uuid


def post(connection: http.client.HTTPConnection, path: str, body: dict[str, str]) -> int:
    connection.request("POST", path, json.dumps(body), headers={"content-type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--requests", type=int, default=300, help="of each kind")
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80)

    known = f"timing-{uuid.uuid4().hex[:8]}@example.com"
    status = post(
        connection,
        "/api/v1/auth/register",
        {"email": known, "password": "Timing-Password-4711", "name": "Timing"},
    )
    assert status == 201, status
    kinds = ["known", "unknown"] * args.requests
    random.shuffle(kinds)
    for _ in range(20):  # warm-up: connection, caches, first statements
        post(connection, "/api/v1/auth/password-reset", {"email": known})
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for kind in kinds:
        email = known if kind == "known" else f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        started = time.perf_counter()
        status = post(connection, "/api/v1/auth/password-reset", {"email": email})
        times[kind].append((time.perf_counter() - started) * 1000)
        assert status == 202, status
    for kind, values in times.items():
        values.sort()
        print(
            f"{kind:8} n={len(values)} median={statistics.median(values):.2f} ms "
            f"p10={values[len(values) // 10]:.2f} p90={values[len(values) * 9 // 10]:.2f} "
            f"mean={statistics.fmean(values):.2f}"
        )
    difference = statistics.median(times["known"]) - statistics.median(times["unknown"])
    print(f"median difference (known - unknown): {difference:+.2f} ms")


if __name__ == "__main__":
    main()
