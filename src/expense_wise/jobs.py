"""The job registry: every domain's jobs and periodic entries, in one list at the top of the
dependency graph. `app.py` and `cli.py` hand it to a runner from `expense_wise.runtime`, which
knows no domain itself."""

from __future__ import annotations

from arq import cron
from arq.cron import CronJob

from expense_wise.backup.metrics import backup_gauges
from expense_wise.domain.accounts.jobs import send_password_reset
from expense_wise.domain.notifications.jobs import FLUSH_INTERVAL_SECONDS, flush_outbox, send_email
from expense_wise.domain.receipts.jobs import (
    SWEEP_INTERVAL_SECONDS,
    process_receipt,
    sweep_receipts,
)
from expense_wise.domain.recurring.jobs import (
    GENERATE_INTERVAL_SECONDS,
    generate_recurring_expenses,
)
from expense_wise.domain.reports.jobs import send_monthly_summaries
from expense_wise.idempotency import SWEEP_INTERVAL_SECONDS as IDEMPOTENCY_SWEEP_SECONDS
from expense_wise.idempotency import expire_idempotency_keys
from expense_wise.runtime.jobs import JobRegistry, every, instrumented


def cron_jobs() -> list[CronJob]:
    """Periodic jobs (ARQ cron definitions, also driven by the in-process scheduler)."""
    return [
        every(sweep_receipts, SWEEP_INTERVAL_SECONDS, run_at_startup=True),
        every(flush_outbox, FLUSH_INTERVAL_SECONDS, run_at_startup=True),
        every(generate_recurring_expenses, GENERATE_INTERVAL_SECONDS, run_at_startup=True),
        every(expire_idempotency_keys, IDEMPOTENCY_SWEEP_SECONDS, run_at_startup=True),
        # Hourly on the 1st to 3rd: a worker down at the turn of the month still sends the
        # summary, and its dedupe key keeps it to one per user and month.
        cron(
            instrumented(send_monthly_summaries),  # type: ignore[arg-type]
            day={1, 2, 3},
            minute={17},
            second={0},
            unique=True,
        ),
    ]


JOB_REGISTRY = JobRegistry(
    functions=[
        process_receipt,
        send_email,
        send_password_reset,
        flush_outbox,
        send_monthly_summaries,
        generate_recurring_expenses,
        expire_idempotency_keys,
    ],
    cron_jobs=cron_jobs,
    # The worker publishes backup freshness, so it is measured wherever a worker runs.
    worker_background=[backup_gauges],
)
