"""One structured log line per request, with a request id that is accepted and returned."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from expense_wise.logging import get_logger

log = get_logger("expense_wise.http")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            user = scope.get("user")
            log.info(
                "request",
                method=scope.get("method"),
                path=scope["path"],
                route=scope.get("path_template"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                user_id=str(user.id) if user is not None and hasattr(user, "id") else None,
            )
            structlog.contextvars.unbind_contextvars("request_id")


def security_headers(hsts_max_age: int) -> Callable[[Message, Scope], Awaitable[None]]:
    """A `before_send` hook adding the headers every response carries:
    `X-Content-Type-Options: nosniff`; on the API, `Cache-Control: no-store` unless a handler
    chose its own (tokens and personal data must not sit in a shared or browser cache); and
    HSTS when the request came over HTTPS, directly or through a TRUSTED_PROXIES proxy (uvicorn
    takes the scheme from X-Forwarded-Proto only from those). A hook and not a middleware:
    Litestar sends the errors raised in middleware (the 401 of a missing token) past every
    middleware, but through the hooks."""
    hsts = f"max-age={hsts_max_age}".encode() if hsts_max_age > 0 else None

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers", []))
        present = {name.lower() for name, _ in headers}
        if b"x-content-type-options" not in present:
            headers.append((b"x-content-type-options", b"nosniff"))
        if scope["path"].startswith("/api/") and b"cache-control" not in present:
            headers.append((b"cache-control", b"no-store"))
        if hsts is not None and scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", hsts))
        message["headers"] = headers

    return add_headers
