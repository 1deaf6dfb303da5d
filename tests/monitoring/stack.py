"""A monitored Expense-Wise on 127.0.0.1 for the end-to-end alerting tests: the API and a
worker as real processes, a private Redis and a TCP proxy in front of PostgreSQL (both can be
cut without touching the shared servers), and Debian's `prometheus` scraping both processes
every second with the rules of monitoring/slos.yaml, every window and `for` 90 times
shorter.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis as redis_sync

from monitoring.render import rules_text
from monitoring.spec import Spec, Timing
from tests.conftest import free_port

TIME_SCALE = 1 / 90


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream port until cut: then every open connection is
    dropped and new ones are closed at once, as when a database server goes away."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = True
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.connections |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self.lock:
            dropped, self.connections = self.connections, set()
        for connection in dropped:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


class PrivateRedis:
    """A redis-server of this test's own, on a free port, that can be stopped and started
    again on the same port (the shared Redis is never touched)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis_sync.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(redis_sync.ConnectionError):
                if client.ping():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the private Redis did not start")
            time.sleep(0.1)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def scaled_rules_config(directory: Path, targets: dict[str, str]) -> str:
    """A Prometheus configuration scraping `targets` (job -> host:port) every second, with
    the rules of monitoring/slos.yaml compressed by TIME_SCALE."""
    rules = directory / "expense-wise.rules.yml"
    rules.write_text(rules_text(Spec.load(), Timing(scale=TIME_SCALE)))
    scrape_configs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        for job, target in targets.items()
    )
    return (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {rules}\nscrape_configs:\n{scrape_configs}"
    )


@dataclass
class Prometheus:
    """Debian's prometheus on a free port of 127.0.0.1, with temporary storage."""

    binary: str
    directory: Path
    config: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.directory / "prometheus.yml"
        config.write_text(self.config)
        self.log = (self.directory / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.directory / "prometheus.log").read_text())
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.log.close()

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def active_alerts(self) -> dict[tuple[str, str], str]:
        """(alert name, the labels that tell instances apart) -> pending or firing."""
        return {
            (alert["labels"]["alertname"], alert["labels"].get("check", "")): alert["state"]
            for alert in self.api("alerts")["alerts"]
        }

    def targets(self) -> list[str]:
        """Each target's job, health, last error and scrape time: what a failure shows."""
        return [
            f"{target['labels']['job']}: {target['health']} {target['lastError']!r} "
            f"{target['lastScrapeDuration']:.3f}s"
            for target in self.api("targets")["activeTargets"]
        ]

    def went_pending(self, alertname: str) -> bool:
        """Whether Prometheus recorded the alert as pending in the last ten minutes (its
        ALERTS series), however briefly."""
        pending = f'ALERTS{{alertname="{alertname}", alertstate="pending"}}'
        return bool(self.query(f"max_over_time({pending}[10m])"))

    def metric_names(self) -> set[str]:
        """Every metric family the scraped targets announced (with or without samples)."""
        return set(self.api("metadata"))


def wait_until(condition: Any, timeout: float, what: str | Any, interval: float = 0.25) -> None:
    """Poll `condition` until true; else fail saying `what` (a string or a callable)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what() if callable(what) else what} after {timeout} s")
        time.sleep(interval)


# --- Metric names in PromQL ----------------------------------------------------------------

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}  # fmt: skip


def metric_names_in(expr: str) -> set[str]:
    """The metric (and recording rule) names a PromQL expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        following = text[match.end() :].lstrip()[:1]
        if following != "(" and match.group() not in _KEYWORDS:
            names.add(match.group())
    return names


def family(name: str) -> str:
    """The metric family a sample name belongs to (histogram series carry suffixes)."""
    return re.sub(r"_(bucket|count|sum)$", "", name)


@contextlib.contextmanager
def temporary_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ew-monitoring-") as name:
        yield Path(name)
