"""What `expense-wise worker` reports about itself on WORKER_METRICS_PORT: `/metrics` for
Prometheus and `/health` for people and probes (503 while Redis is unreachable or the job
loop has stopped turning), served from a thread so a busy event loop still answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import Gauge, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

REDIS_UP = Gauge("worker_redis_up", "1 while the worker reaches Redis, 0 during an outage")
# The poll loop turns every half second; this long without a turn means it is stuck.
STALLED_AFTER_SECONDS = 60.0


class WorkerHealth:
    """Updated by the worker's poll loop, read by the health endpoint's thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.redis_error: str | None = None
        self.redis_down_since: float | None = None
        self.last_turn = time.monotonic()
        REDIS_UP.set(1)

    def turned(self) -> None:
        with self.lock:
            self.last_turn = time.monotonic()
            self.redis_error = None
            self.redis_down_since = None
        REDIS_UP.set(1)

    def redis_down(self, error: str) -> float:
        """Record a failed turn; returns how long Redis has been unreachable."""
        now = time.monotonic()
        with self.lock:
            self.last_turn = now
            self.redis_error = error
            if self.redis_down_since is None:
                self.redis_down_since = now
            down_for = now - self.redis_down_since
        REDIS_UP.set(0)
        return down_for

    def report(self) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        with self.lock:
            idle = now - self.last_turn
            error, since = self.redis_error, self.redis_down_since
        body: dict[str, Any] = {"status": "healthy", "redis": "ok"}
        if since is not None:
            body["redis"] = f"unreachable for {now - since:.0f} s: {error}"
        if idle > STALLED_AFTER_SECONDS:
            body["loop"] = f"no turn for {idle:.0f} s"
        healthy = since is None and idle <= STALLED_AFTER_SECONDS
        if not healthy:
            body["status"] = "unhealthy"
        return healthy, body


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds: no access log."""


def serve_health(port: int, health: WorkerHealth, host: str = "0.0.0.0") -> ThreadingWSGIServer:  # noqa: S104
    """Serve /health and /metrics on `port` from a daemon thread."""
    metrics_app = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health":
            healthy, body = health.report()
            payload = json.dumps(body).encode()
            start_response(
                "200 OK" if healthy else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        result: Iterable[bytes] = metrics_app(environ, start_response)
        return result

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True, name="worker-health").start()
    return server
