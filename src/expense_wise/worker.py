"""Background jobs: the same job functions run in ARQ on Redis (`expense-wise worker`) or, in
the embedded default, inside the API process.

ARQ keeps no durable record of owed work (a Redis flush loses queued jobs, a killed worker's job
waits for its lock to expire), so domain tables are the source of truth and periodic sweepers
re-queue what is owed. Jobs are plain `async def job(ctx, *args)` functions listed in
`job_functions()`; they raise `arq.Retry(defer=...)` for transient failures in both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import structlog
from arq import Retry, create_pool, cron
from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix
from arq.cron import CronJob
from arq.worker import Function, func
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import metrics
from expense_wise.db.engine import create_engine, create_session_factory
from expense_wise.error_tracking import capture_exception
from expense_wise.logging import get_logger
from expense_wise.settings import Settings
from expense_wise.storage import create_storage

JobFunction = Callable[..., Awaitable[Any]]
MAX_TRIES = 5
JOB_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 10
# Due jobs looked at for the queue's age: more than this many running at once is unusual.
OLDEST_SCAN = 50
log = get_logger(__name__)


class QueueUnavailable(Exception):
    """The job could not be queued; the owed work is recorded in the database and a sweeper
    will queue it later."""


class JobQueue(Protocol):
    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float | None = None
    ) -> bool:
        """Queue a job; False when a job with the same id is already queued or running."""
        ...

    async def queue_depth(self) -> int: ...

    async def oldest_wait_seconds(self) -> float:
        """How long the longest-waiting due job, not yet started, has waited (0: none)."""
        ...


def job_functions() -> list[JobFunction]:
    """Every job, registered by its function name."""
    from expense_wise.domain.notifications.jobs import (
        flush_outbox,
        send_email,
        send_monthly_summaries,
    )
    from expense_wise.domain.receipts.jobs import process_receipt
    from expense_wise.domain.recurring.jobs import generate_recurring_expenses

    jobs: list[JobFunction] = [
        process_receipt,
        send_email,
        flush_outbox,
        send_monthly_summaries,
        generate_recurring_expenses,
    ]
    return jobs


def cron_jobs() -> list[CronJob]:
    """Periodic jobs (ARQ cron definitions, also driven by the in-process scheduler)."""
    from expense_wise.domain.notifications.jobs import (
        FLUSH_INTERVAL_SECONDS,
        flush_outbox,
        send_monthly_summaries,
    )
    from expense_wise.domain.receipts.jobs import SWEEP_INTERVAL_SECONDS, sweep_receipts
    from expense_wise.domain.recurring.jobs import (
        GENERATE_INTERVAL_SECONDS,
        generate_recurring_expenses,
    )

    jobs: list[CronJob] = [
        every(sweep_receipts, SWEEP_INTERVAL_SECONDS, run_at_startup=True),
        every(flush_outbox, FLUSH_INTERVAL_SECONDS, run_at_startup=True),
        every(generate_recurring_expenses, GENERATE_INTERVAL_SECONDS, run_at_startup=True),
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
    return jobs


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


async def build_context(settings: Settings, queue: JobQueue | None = None) -> dict[str, Any]:
    engine = create_engine(settings.database)
    return {
        "settings": settings,
        "engine": engine,
        "session_factory": create_session_factory(engine),
        "storage": create_storage(settings.storage),
        "queue": queue,
    }


@contextlib.asynccontextmanager
async def job_session(ctx: dict[str, Any]) -> AsyncIterator[AsyncSession]:
    """A session for one job: commits on success, rolls back on failure."""
    async with ctx["session_factory"]() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# --- ARQ on Redis (production) ---------------------------------------------------------


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


class ArqQueue:
    def __init__(self, pool: ArqRedis, queue_name: str) -> None:
        self.pool = pool
        self.queue_name = queue_name

    @classmethod
    async def connect(cls, settings: Settings) -> ArqQueue:
        assert settings.redis.url is not None
        pool = await create_pool(
            redis_settings(settings.redis.url),
            default_queue_name=settings.redis.queue_name,
        )
        return cls(pool, settings.redis.queue_name)

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float | None = None
    ) -> bool:
        try:
            job = await self.pool.enqueue_job(
                name,
                *args,
                _job_id=job_id,
                _queue_name=self.queue_name,
                _defer_by=defer_seconds,
            )
        except (OSError, ConnectionError, TimeoutError) as error:
            raise QueueUnavailable(str(error)) from error
        except Exception as error:  # redis-py raises its own hierarchy
            if type(error).__module__.startswith("redis"):
                raise QueueUnavailable(str(error)) from error
            raise
        return job is not None

    async def queue_depth(self) -> int:
        return int(await self.pool.zcard(self.queue_name))

    async def oldest_wait_seconds(self) -> float:
        # A job stays in ARQ's queue (scored by when it is due) while it runs; skip those
        # that a worker holds, or a long OCR job would look like a stalled queue.
        now_ms = time.time() * 1000
        due = await self.pool.zrangebyscore(
            self.queue_name, "-inf", now_ms, start=0, num=OLDEST_SCAN, withscores=True
        )
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id, _ in due:
                pipe.exists(in_progress_key_prefix + job_id.decode())
            running = await pipe.execute()
        waiting = [score for (_, score), held in zip(due, running, strict=True) if not held]
        return max(0.0, (now_ms - waiting[0]) / 1000) if waiting else 0.0

    async def close(self) -> None:
        await self.pool.aclose()


def worker_settings(settings: Settings) -> type:
    """An ARQ WorkerSettings class for these settings."""
    assert settings.redis.url is not None

    async def startup(ctx: dict[str, Any]) -> None:
        from expense_wise.backup.metrics import backup_gauges

        queue = ArqQueue(ctx["redis"], settings.redis.queue_name)
        ctx.update(await build_context(settings, queue))
        metrics.instrument_pool(ctx["engine"])
        ctx["background"] = contextlib.AsyncExitStack()
        await ctx["background"].enter_async_context(backup_gauges(settings))
        log.info("worker started", queue=settings.redis.queue_name, **settings.describe())

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "background" in ctx:
            await ctx["background"].aclose()
        if "engine" in ctx:
            await ctx["engine"].dispose()

    functions: list[Function] = [
        func(
            instrumented(job),  # type: ignore[arg-type]  # arq's WorkerCoroutine protocol
            name=job.__name__,
            max_tries=MAX_TRIES,
            timeout=JOB_TIMEOUT_SECONDS,
        )
        for job in job_functions()
    ]
    return type(
        "WorkerSettings",
        (),
        {
            "functions": functions,
            "cron_jobs": cron_jobs(),
            "on_startup": startup,
            "on_shutdown": shutdown,
            "redis_settings": redis_settings(settings.redis.url),
            "queue_name": settings.redis.queue_name,
            "max_jobs": settings.worker.concurrency,
            "job_timeout": JOB_TIMEOUT_SECONDS,
            "keep_result": 60,
            "max_tries": MAX_TRIES,
            "health_check_interval": 30,
            "handle_signals": True,
        },
    )


# --- In-process (embedded default) -----------------------------------------------------


class InProcessQueue:
    """Runs queued jobs as asyncio tasks in this process, with ARQ's retry semantics, and
    drives the cron definitions with the same schedule ARQ would use."""

    def __init__(self, concurrency: int = 2) -> None:
        self.ctx: dict[str, Any] = {}
        self.functions = {job.__name__: instrumented(job) for job in job_functions()}
        self.active: set[str] = set()
        self.waiting_since: dict[str, float] = {}  # queued job -> when it became due
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(concurrency)
        self.scheduler: asyncio.Task[None] | None = None
        self.cron = cron_jobs()

    async def start(self, settings: Settings) -> None:
        self.ctx = await build_context(settings, self)
        self.scheduler = asyncio.create_task(self._run_cron())

    async def stop(self) -> None:
        if self.scheduler:
            self.scheduler.cancel()
        for task in list(self.tasks):
            task.cancel()
        # Bounded: a job that swallows its cancellation must not hang shutdown. Owed work is
        # in the database, and the sweepers pick it up at the next start.
        running = [*self.tasks, *([self.scheduler] if self.scheduler else [])]
        if running:
            await asyncio.wait(running, timeout=STOP_TIMEOUT_SECONDS)
        if "engine" in self.ctx:
            await self.ctx["engine"].dispose()

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float | None = None
    ) -> bool:
        if name not in self.functions:
            raise ValueError(f"unknown job {name!r}")
        key = job_id or f"{name}:{id(args)}:{time.monotonic_ns()}"
        if key in self.active:
            return False
        self.active.add(key)
        self.waiting_since[key] = time.monotonic() + (defer_seconds or 0)
        task = asyncio.create_task(self._run(key, name, args, defer_seconds or 0))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def queue_depth(self) -> int:
        return len(self.active)

    async def oldest_wait_seconds(self) -> float:
        now = time.monotonic()
        return max((now - due for due in self.waiting_since.values() if due <= now), default=0.0)

    async def _run(self, key: str, name: str, args: tuple[Any, ...], delay: float) -> None:
        try:
            for job_try in range(1, MAX_TRIES + 1):
                if delay:
                    await asyncio.sleep(delay)
                async with self.slots:
                    self.waiting_since.pop(key, None)
                    try:
                        ctx = {**self.ctx, "job_id": key, "job_try": job_try}
                        await asyncio.wait_for(
                            self.functions[name](ctx, *args), timeout=JOB_TIMEOUT_SECONDS
                        )
                        return
                    except Retry as retry:
                        delay = _retry_delay(retry)
                    except Exception:
                        return
        finally:
            self.active.discard(key)
            self.waiting_since.pop(key, None)

    async def _run_cron(self) -> None:
        now = dt.datetime.now()
        for job in self.cron:
            job.calculate_next(now)
            if job.run_at_startup:
                await self._fire(job)
        while True:
            await asyncio.sleep(0.5)
            now = dt.datetime.now()
            for job in self.cron:
                if job.next_run is not None and now >= job.next_run:
                    job.calculate_next(now)
                    await self._fire(job)

    async def _fire(self, job: CronJob) -> None:
        name: str = job.coroutine.__name__  # type: ignore[attr-defined]
        self.functions.setdefault(name, job.coroutine)  # already instrumented by cron_jobs()
        # One run at a time per cron job, as ARQ's `unique` cron does.
        await self.enqueue(name, job_id=f"cron:{name}")


def _retry_delay(retry: Retry) -> float:
    defer = retry.defer_score
    return defer / 1000 if defer else 1.0
