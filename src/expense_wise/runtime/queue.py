"""The queue protocol: all that domains know of the job runtime."""

from __future__ import annotations

from typing import Any, Protocol


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
