"""structlog set-up: JSON lines in production, readable lines in development.

A redaction processor runs last-but-one so that no password, token, secret or Authorization
header reaches the output, whatever a caller passes in.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SENSITIVE_KEY = re.compile(
    r"pass(word)?|secret|token|authorization|api[_-]?key|cookie|credential", re.IGNORECASE
)
# Bearer values and JWT-looking strings inside free text (exception messages, URLs).
SENSITIVE_TEXT = re.compile(
    r"(Bearer\s+)[A-Za-z0-9._~+/=-]+|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
    r"|ewp_[A-Za-z0-9_-]+|(://[^:/@\s]+:)[^@\s]+(@)"
)
REDACTED = "[redacted]"


def _redact_text(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1) + REDACTED
        if match.group(2):
            return match.group(2) + REDACTED + match.group(3)
        return REDACTED

    return SENSITIVE_TEXT.sub(replace, text)


def redact_value(key: str, value: Any) -> Any:
    if SENSITIVE_KEY.search(key) and value not in (None, "", 0):
        return REDACTED
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key == "event":
            event_dict[key] = redact_value("event", event_dict[key])
        else:
            event_dict[key] = redact_value(key, event_dict[key])
    return event_dict


def configure_logging(level: str, json_output: bool) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        # A plain traceback: the default (rich, where installed) prints every frame's local
        # variables, which redaction cannot reach (passwords, tokens), and takes a fifth of
        # a second or more per error, during which the event loop serves nothing.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    final: list[Any] = [structlog.processors.format_exc_info] if json_output else []
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            *final,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached: configure_logging may run again (tests, reloads) and must take effect.
        cache_logger_on_first_use=False,
    )
    # Standard-library loggers (uvicorn, arq, alembic) go through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, *final],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Uvicorn's own access log would duplicate our one-line-per-request log.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "arq"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
