"""What both runners share: the registry they are handed, the instrumentation every job run
gets, cron definitions, and the resources a job finds in its context.

ARQ keeps no durable record of owed work (a Redis flush loses queued jobs, a killed worker's job
waits for its lock to expire), so domain tables are the source of truth and periodic sweepers
re-queue what is owed. Jobs are plain `async def job(ctx, *args)` functions registered by name;
they raise `arq.Retry(defer=...)` for transient failures in both modes.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import structlog
from arq import Retry, cron
from arq.cron import CronJob

from expense_wise import metrics
from expense_wise.error_tracking import capture_exception
from expense_wise.logging import get_logger
from expense_wise.settings import Settings

JobFunction = Callable[..., Awaitable[Any]]
MAX_TRIES = 5
JOB_TIMEOUT_SECONDS = 300
log = get_logger(__name__)


@dataclass(frozen=True)
class JobRegistry:
    """Every job by function name, the periodic entries, and what a worker process runs
    beside them."""

    functions: Sequence[JobFunction]
    # A factory: a CronJob remembers its next run, so each runner needs its own.
    cron_jobs: Callable[[], list[CronJob]]
    worker_background: Sequence[Callable[[Settings], AbstractAsyncContextManager[None]]] = ()


def every(job: JobFunction, seconds: int, *, run_at_startup: bool = False) -> CronJob:
    """A cron definition firing every `seconds` (a divisor of 60, or whole minutes dividing 60)."""
    # Counted and timed like queued jobs; arq types jobs with its own WorkerCoroutine protocol.
    coroutine: Any = instrumented(job)
    if seconds < 60:
        return cron(
            coroutine, second=set(range(0, 60, seconds)), run_at_startup=run_at_startup, unique=True
        )
    return cron(
        coroutine,
        minute=set(range(0, 60, seconds // 60)),
        second={0},
        run_at_startup=run_at_startup,
        unique=True,
    )


def instrumented(job: JobFunction) -> JobFunction:
    """Counts starts, successes, retries and failures and times every run, in both modes."""
    name = job.__name__

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        metrics.JOBS_STARTED.labels(name).inc()
        started = time.perf_counter()
        # Each job runs in its own task, so what is bound here stays with this job's logs
        # and error reports.
        with structlog.contextvars.bound_contextvars(
            job=name, job_id=ctx.get("job_id"), job_try=ctx.get("job_try")
        ):
            try:
                result = await job(ctx, *args, **kwargs)
            except Retry:
                metrics.JOBS_RETRIED.labels(name).inc()
                raise
            except Exception as error:
                metrics.JOBS_FAILED.labels(name).inc()
                log.exception("job failed")
                capture_exception(error)
                raise
            finally:
                metrics.JOB_DURATION.labels(name).observe(time.perf_counter() - started)
        metrics.JOBS_SUCCEEDED.labels(name).inc()
        return result

    return run


def job_context(
    settings: Settings, session_factory: Any, storage: Any, queue: Any
) -> dict[str, Any]:
    """The resources every job finds in its `ctx`, built once per process."""
    return {
        "settings": settings,
        "session_factory": session_factory,
        "storage": storage,
        "queue": queue,
    }
