"""Deadlines for slow clients, in the HTTP server itself (uvicorn has none for request headers
or bodies: a client sending a byte a second holds its connection, and a slot of the server,
for as long as it likes).

A connection must deliver a request's headers within SERVER_HEADER_TIMEOUT of its first byte
(or of being opened), and the body within SERVER_BODY_TIMEOUT of the headers; otherwise it is
closed. The timeouts are read from the environment in each server process, because uvicorn
builds this protocol itself (in worker processes too) and hands it nothing of ours; `serve`
has already validated them through the settings.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from expense_wise.logging import get_logger
from expense_wise.setting_values import parse_duration

DEFAULT_HEADER_TIMEOUT = 10
DEFAULT_BODY_TIMEOUT = 60
log = get_logger(__name__)
_TIMEOUT_BODY = b'{"status_code":408,"detail":"request headers not received in time"}'
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: "
    + str(len(_TIMEOUT_BODY)).encode()
    + b"\r\nconnection: close\r\n\r\n"
    + _TIMEOUT_BODY
)


@functools.cache
def client_timeouts() -> tuple[int, int]:
    """(header, body) deadlines in seconds, from SERVER_HEADER_TIMEOUT / SERVER_BODY_TIMEOUT."""
    header = os.environ.get("SERVER_HEADER_TIMEOUT", "").strip()
    body = os.environ.get("SERVER_BODY_TIMEOUT", "").strip()
    return (
        parse_duration(header) if header else DEFAULT_HEADER_TIMEOUT,
        parse_duration(body) if body else DEFAULT_BODY_TIMEOUT,
    )


class SlowClientGuard(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline per request phase."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, self.body_timeout = client_timeouts()
        self.deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: int, phase: str) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._expire, phase)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expire(self, phase: str) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        log.warning("closing a slow client", phase=phase, client=str(self.client))
        if phase == "headers" and (self.cycle is None or self.cycle.response_complete):
            # No response under way: say why before closing.
            self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")  # an opened connection that sends nothing

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, "body")

    def on_message_complete(self) -> None:
        self._disarm()  # the request is in; the application takes its time
        super().on_message_complete()
