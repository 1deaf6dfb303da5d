"""Jobs inside the API process (the embedded default, without Redis)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from arq import Retry
from arq.cron import CronJob

from expense_wise.runtime.jobs import JOB_TIMEOUT_SECONDS, MAX_TRIES, JobRegistry, instrumented

STOP_TIMEOUT_SECONDS = 10


class InProcessQueue:
    """Runs queued jobs as asyncio tasks in this process, with ARQ's retry semantics, and
    drives the cron definitions with the same schedule ARQ would use."""

    def __init__(self, registry: JobRegistry, concurrency: int = 2) -> None:
        self.ctx: dict[str, Any] = {}
        self.functions = {job.__name__: instrumented(job) for job in registry.functions}
        self.active: set[str] = set()
        self.waiting_since: dict[str, float] = {}  # queued job -> when it became due
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(concurrency)
        self.scheduler: asyncio.Task[None] | None = None
        self.cron = registry.cron_jobs()

    async def start(self, ctx: dict[str, Any]) -> None:
        """Start the periodic entries; jobs run with `ctx`, the process's own resources (the
        API's engine, not a second one)."""
        self.ctx = {**ctx, "queue": self}
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
        self.functions.setdefault(name, job.coroutine)  # already instrumented by every()
        # One run at a time per cron job, as ARQ's `unique` cron does.
        await self.enqueue(name, job_id=f"cron:{name}")


def _retry_delay(retry: Retry) -> float:
    defer = retry.defer_score
    return defer / 1000 if defer else 1.0
