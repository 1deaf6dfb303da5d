"""Application metrics beyond the HTTP ones that Litestar's Prometheus middleware records.

Counters live in the process that does the work; gauges that describe the whole system
(queue depth and age, receipts by status, outbox age, readiness) are refreshed from
PostgreSQL/Redis every few seconds by background loops in the app, so every API replica
reports the same truth. The alert rules and dashboards in monitoring/ use these names.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

JOBS_STARTED = Counter("jobs_started_total", "Background jobs started", ["job"])
JOBS_SUCCEEDED = Counter("jobs_succeeded_total", "Background jobs that succeeded", ["job"])
JOBS_FAILED = Counter("jobs_failed_total", "Background jobs that failed for good", ["job"])
JOBS_RETRIED = Counter("jobs_retried_total", "Background jobs scheduled for another try", ["job"])
JOB_DURATION = Histogram(
    "job_duration_seconds",
    "Background job run time",
    ["job"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128),
)

# --- Receipts ------------------------------------------------------------------------------
RECEIPTS_FINISHED = Counter(
    "receipts_finished_total",
    "Receipts whose OCR finished: status=done, or status=failed for good",
    ["status"],
)

# One engine reading: a Tesseract run, or RapidOCR's detection and recognition (or its
# re-recognition of boxes Tesseract found), so the cascade's cost per engine shows.
OCR_READING_SECONDS = Histogram(
    "ocr_reading_seconds",
    "Time of one OCR engine reading",
    ["engine"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
)
for _engine in ("tesseract", "rapidocr"):
    OCR_READING_SECONDS.labels(_engine)  # exported at zero before the first receipt

# --- Notifications and recurring expenses ----------------------------------------------
EMAILS_QUEUED = Counter("emails_queued_total", "Emails recorded in the outbox", ["kind"])
EMAILS_SENT = Counter("emails_sent_total", "Emails accepted by the SMTP server", ["kind"])
EMAILS_FAILED = Counter(
    "emails_failed_total",
    "Failed delivery attempts; outcome=retry will be tried again, outcome=given_up will not",
    ["kind", "outcome"],
)
OUTBOX_OLDEST_UNSENT_AGE = Gauge(
    "outbox_oldest_unsent_age_seconds",
    "Age of the oldest email still waiting to be sent (0 when none is waiting)",
    multiprocess_mode="max",
)
OUTBOX_OLDEST_DUE_AGE = Gauge(
    "outbox_oldest_due_age_seconds",
    "How long the longest-overdue email has been due without being sent (0 when none is due)",
    multiprocess_mode="max",
)
OUTBOX_EMAILS = Gauge(
    "outbox_emails", "Emails in the outbox by status", ["status"], multiprocess_mode="max"
)
RECURRING_OCCURRENCES_CREATED = Counter(
    "recurring_occurrences_created_total", "Expenses created from recurring expenses"
)

# --- Readiness and the database pool ------------------------------------------------------
READINESS_CHECK_OK = Gauge(
    "readiness_check_ok",
    "1 when the dependency answered the last readiness check of this process, else 0",
    ["check"],
    multiprocess_mode="livemin",
)
DB_POOL_SIZE = Gauge(
    "db_pool_size", "Connections the database pool may hold", multiprocess_mode="livesum"
)
DB_POOL_IN_USE = Gauge(
    "db_pool_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
DB_POOL_TIMEOUTS = Counter(
    "db_pool_timeouts_total", "Requests that waited DATABASE_POOL_TIMEOUT for a connection"
)


def instrument_pool(engine: AsyncEngine) -> None:
    """Count the connections this engine's pool hands out and takes back."""
    pool: Any = engine.sync_engine.pool
    if hasattr(pool, "size"):
        DB_POOL_SIZE.set(pool.size())
    event.listen(engine.sync_engine, "checkout", lambda *_: DB_POOL_IN_USE.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: DB_POOL_IN_USE.dec())


def serve_metrics(port: int, host: str) -> None:
    """Serve /metrics of this process, or of every server process when they share metrics
    through PROMETHEUS_MULTIPROC_DIR, on a listener of its own (a daemon thread)."""
    from prometheus_client import start_http_server

    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)
