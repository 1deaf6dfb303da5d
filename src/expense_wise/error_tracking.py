"""Optional error tracking with Sentry (SENTRY_DSN; off when unset).

What is reported: an unhandled error of a request (the one `internal_error_handler` turns into
a 500) and a job that fails for good (not its retries), each tagged with the release, the
environment, the process component and the request id or job. Errors the API maps to a 4xx or a
retryable 503 are not reported: they are the client's fault or an outage the alerts cover.

What is not sent: request bodies, local variables, cookies, client IPs and user details
(`send_default_pii` off); every remaining string goes through the same redaction as the logs,
so no password, token, secret, Authorization header or URL credential leaves the process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import structlog

from expense_wise.logging import redact_value
from expense_wise.settings import Settings

# structlog context keys copied onto events as tags (bound by the request log middleware
# and by the job wrapper).
CONTEXT_TAGS = ("request_id", "job", "job_id", "job_try")
_enabled = False


def init_error_tracking(settings: Settings, component: str) -> bool:
    """Start the Sentry client for this process; False (and nothing done) without a DSN."""
    global _enabled
    config = settings.error_tracking
    if config.sentry_dsn is None:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=config.sentry_dsn,
        release=config.release,
        environment=config.environment,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        # Only what is listed: no automatic instrumentation of Redis, SQLAlchemy or ARQ,
        # whose own error capture would report retries and handled errors a second time.
        auto_enabling_integrations=False,
        # Log records become breadcrumbs, never events of their own.
        integrations=[LoggingIntegration(level=logging.INFO, event_level=None)],
        before_send=_before_send,
        before_breadcrumb=_before_breadcrumb,
    )
    sentry_sdk.set_tag("component", component)
    _enabled = True
    return True


def asgi_middleware() -> list[Any]:
    """The ASGI middleware that attaches the request (method, URL, safe headers) to events,
    when error tracking is on."""
    if not _enabled:
        return []
    from litestar.middleware import DefineMiddleware
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

    return [DefineMiddleware(SentryAsgiMiddleware, transaction_style="url")]


def capture_exception(error: BaseException) -> None:
    if _enabled:
        import sentry_sdk

        sentry_sdk.capture_exception(error)


def _before_send(event: Any, hint: Any) -> Any:
    error = hint.get("exc_info", (None, None))[1]
    if isinstance(error, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
        return None  # a process stopping (the worker on SIGTERM), not an error
    context = structlog.contextvars.get_contextvars()
    tags = event.setdefault("tags", {})
    for key in CONTEXT_TAGS:
        if context.get(key) is not None:
            tags[key] = str(context[key])
    # Sentry's own annotations (`_meta`) say what it removed; they carry no data.
    return {
        key: value if key == "_meta" else redact_value(key, value) for key, value in event.items()
    }


def _before_breadcrumb(crumb: Any, _hint: Any) -> Any:
    return redact_value("breadcrumb", crumb)
