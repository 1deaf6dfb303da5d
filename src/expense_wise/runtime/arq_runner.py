"""Jobs on Redis through ARQ: the queue the API uses, and the `expense-wise worker` process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import redis.exceptions
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix
from arq.worker import Function, Worker, func, get_kwargs

from expense_wise import metrics
from expense_wise.db.engine import create_engine, create_session_factory
from expense_wise.logging import get_logger
from expense_wise.runtime.jobs import (
    JOB_TIMEOUT_SECONDS,
    MAX_TRIES,
    JobRegistry,
    instrumented,
    job_context,
)
from expense_wise.runtime.queue import QueueUnavailable
from expense_wise.runtime.worker_health import WorkerHealth
from expense_wise.settings import Settings
from expense_wise.storage import create_storage

# Due jobs looked at for the queue's age: more than this many running at once is unusual.
OLDEST_SCAN = 50
# Errors that mean Redis is unreachable (down, restarting, frozen), not a bug of ours.
REDIS_UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
    TimeoutError,
)
# The worker's retries while Redis is away: 0.5 s, 1 s, 2 s, ... at most this long apart.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 5.0
# No Redis command of the worker's takes long: longer means a frozen server.
WORKER_REDIS_SOCKET_TIMEOUT = 10
log = get_logger(__name__)


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


def worker_settings(settings: Settings, registry: JobRegistry) -> type:
    """An ARQ WorkerSettings class running the registry's jobs with these settings."""
    assert settings.redis.url is not None

    async def startup(ctx: dict[str, Any]) -> None:
        queue = ArqQueue(ctx["redis"], settings.redis.queue_name)
        engine = ctx["engine"] = create_engine(settings.database)
        metrics.instrument_pool(engine)
        ctx.update(
            job_context(
                settings, create_session_factory(engine), create_storage(settings.storage), queue
            )
        )
        background = ctx["background"] = contextlib.AsyncExitStack()
        for run_beside in registry.worker_background:
            await background.enter_async_context(run_beside(settings))
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
        for job in registry.functions
    ]
    return type(
        "WorkerSettings",
        (),
        {
            "functions": functions,
            "cron_jobs": registry.cron_jobs(),
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


def backoff_seconds(failures: int) -> float:
    return float(min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, failures - 1)))


class ResilientWorker(Worker):
    """ARQ's worker, except that losing Redis does not end it. ARQ lets a connection error of
    its poll loop escape and the process exits (and a worker started while Redis is away
    gives up after five tries): here the loop retries with backoff, reports the outage on
    /health and the worker_redis_up gauge, and carries on when Redis is back. Owed work is in
    the database, so the sweepers re-queue what was queued during the outage."""

    def __init__(self, *args: Any, redis_url: str, health: WorkerHealth, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.redis_url = redis_url
        self.health = health
        self.failures = 0

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await self._connect()
        await super().main()

    async def _connect(self) -> ArqRedis:
        while True:
            pool: ArqRedis = ArqRedis.from_url(
                self.redis_url,
                socket_connect_timeout=2,
                socket_timeout=WORKER_REDIS_SOCKET_TIMEOUT,
            )
            try:
                await pool.ping()
            except REDIS_UNREACHABLE as error:
                await pool.aclose()
                await self._wait_after_failure(error, "redis unreachable at start; retrying")
                continue
            self._recovered()
            return pool

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_UNREACHABLE as error:
            await self._wait_after_failure(error, "redis unreachable; the worker retries")
            return
        self._recovered()

    async def _wait_after_failure(self, error: BaseException, message: str) -> None:
        self.failures += 1
        down_for = self.health.redis_down(str(error) or type(error).__name__)
        delay = backoff_seconds(self.failures)
        log.warning(
            message,
            error=str(error) or type(error).__name__,
            down_seconds=round(down_for, 1),
            retry_in_seconds=delay,
        )
        await asyncio.sleep(delay)

    def _recovered(self) -> None:
        if self.failures:
            log.info("redis reachable again; the worker carries on", failed_tries=self.failures)
            self.failures = 0
            # A restarted Redis lost ARQ's health-check key: write it at the next turn.
            self._last_health_check = 0
        self.health.turned()

    async def close(self) -> None:
        try:
            await super().close()
        except REDIS_UNREACHABLE as error:
            # Shutting down during an outage: nothing left to tell Redis.
            log.warning("redis unreachable at shutdown", error=str(error))


def run_worker(settings_class: type, redis_url: str, health: WorkerHealth) -> None:
    """Run the worker described by `worker_settings(...)` until it is signalled to stop."""
    ResilientWorker(**get_kwargs(settings_class), redis_url=redis_url, health=health).run()
