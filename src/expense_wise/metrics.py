"""Application metrics beyond the HTTP ones that Litestar's Prometheus middleware records.

Counters live in the process that does the work; gauges that describe the whole system
(queue depth, receipts by status, outbox age) are computed from PostgreSQL/Redis at scrape
time by collectors registered in the app, so every API replica reports the same truth.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
OUTBOX_EMAILS = Gauge(
    "outbox_emails", "Emails in the outbox by status", ["status"], multiprocess_mode="max"
)
RECURRING_OCCURRENCES_CREATED = Counter(
    "recurring_occurrences_created_total", "Expenses created from recurring expenses"
)
