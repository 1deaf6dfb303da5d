"""What an operator sees: step lines and a live byte counter on a terminal, one structured log
line per step otherwise (cron, Kubernetes and Nomad logs)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from expense_wise.logging import get_logger

PROGRESS_INTERVAL_SECONDS = 0.25


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


class Reporter:
    def __init__(self, operation: str, interactive: bool | None = None, out: TextIO | None = None):
        self.out = out or sys.stderr
        self.interactive = self.out.isatty() if interactive is None else interactive
        self.operation = operation
        self.timings: dict[str, float] = {}
        self.started = time.monotonic()
        # A fresh logger per operation: one cached at import would keep writing to the
        # stream that was current when it was first used.
        self.log = get_logger("expense_wise.backup")

    @contextmanager
    def step(self, name: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Time one step; the caller may add result fields to the yielded dict."""
        started = time.monotonic()
        result: dict[str, Any] = {}
        if self.interactive:
            print(f"==> {name}", file=self.out, flush=True)
        try:
            yield result
        except BaseException as error:
            seconds = time.monotonic() - started
            if self.interactive:
                print(f"    FAILED after {human_seconds(seconds)}: {error}", file=self.out)
            else:
                self.log.error(
                    f"{self.operation} step failed",
                    step=name,
                    seconds=round(seconds, 3),
                    error=str(error),
                    **fields,
                )
            raise
        seconds = time.monotonic() - started
        self.timings[name] = seconds
        if self.interactive:
            details = "".join(f", {key} {value}" for key, value in result.items())
            print(f"    done in {human_seconds(seconds)}{details}", file=self.out, flush=True)
        else:
            self.log.info(
                f"{self.operation} step", step=name, seconds=round(seconds, 3), **fields, **result
            )

    def progress(self) -> Progress:
        return Progress(self.out if self.interactive else None)

    def note(self, message: str, **fields: Any) -> None:
        if self.interactive:
            print(f"    {message}", file=self.out, flush=True)
        else:
            self.log.info(message, operation=self.operation, **fields)

    def warn(self, message: str, **fields: Any) -> None:
        if self.interactive:
            print(f"    WARNING: {message}", file=self.out, flush=True)
        else:
            self.log.warning(message, operation=self.operation, **fields)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Progress:
    """A `\\r`-rewritten line of bytes, rate and elapsed time; silent without a terminal."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self.bytes = 0
        self.started = time.monotonic()
        self._shown = 0.0

    def add(self, count: int) -> None:
        self.bytes += count
        now = time.monotonic()
        if self.out is not None and now - self._shown >= PROGRESS_INTERVAL_SECONDS:
            self._shown = now
            self._render(now)

    def _render(self, now: float) -> None:
        assert self.out is not None
        elapsed = max(now - self.started, 1e-6)
        self.out.write(
            f"\r    {human_bytes(self.bytes):>10}  {human_bytes(self.bytes / elapsed)}/s"
            f"  {human_seconds(elapsed)}   "
        )
        self.out.flush()

    def finish(self) -> None:
        if self.out is not None and self._shown:
            self._render(time.monotonic())
            self.out.write("\n")
            self.out.flush()
