"""The OCR job and the sweeper that re-queues receipts whose job was lost.

ARQ alone can lose work: a killed worker's job waits for its in-progress lock (job timeout)
to expire, a timed-out job is not retried, and a Redis flush forgets queued jobs. So the
receipt row is the record of owed work: the job claims it with a conditional UPDATE and keeps
a short lease on it while it runs; the sweeper puts receipts with an expired lease back to
pending and queues every pending receipt that has waited past its grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytesseract
from arq import Retry
from sqlalchemy.exc import SQLAlchemyError

from expense_wise.domain.receipts import extraction, images, processing
from expense_wise.logging import get_logger
from expense_wise.runtime.queue import QueueUnavailable
from expense_wise.storage import ObjectNotFound, StorageUnavailable
from expense_wise.unit_of_work import job_session

log = get_logger(__name__)

# Well below the worker's job timeout, so a hung Tesseract is retried rather than cut off.
EXTRACTION_TIMEOUT_SECONDS = 120
RETRY_BASE_SECONDS = 5
MAX_RETRY_SECONDS = 300
SWEEP_INTERVAL_SECONDS = 30
SWEEP_BATCH = 500
HAND_BACK_TIMEOUT_SECONDS = 5
# Tesseract crashing or timing out (pytesseract raises RuntimeError for a timeout), the
# machine running short of memory: worth another try. ImageRejected is not.
_TRANSIENT_OCR_ERRORS = (pytesseract.TesseractError, RuntimeError, OSError, MemoryError)


class _Transient(Exception):
    pass


class _Permanent(Exception):
    pass


def retry_delay(attempt: int) -> int:
    return int(min(RETRY_BASE_SECONDS * 2 ** (attempt - 1), MAX_RETRY_SECONDS))


async def process_receipt(ctx: dict[str, Any], receipt_id: str) -> str:
    """OCR one receipt: pending -> processing -> done | failed (or back to pending to retry)."""
    rid = uuid.UUID(receipt_id)
    lease: int = ctx["settings"].worker.receipt_stale_seconds
    try:
        async with job_session(ctx) as session:
            row = await processing.claim(session, rid, lease)
    except SQLAlchemyError as error:
        log.warning("receipt claim failed; retrying", receipt_id=receipt_id, error=str(error))
        raise Retry(defer=retry_delay(int(ctx.get("job_try") or 1))) from error
    if row is None:
        return "skipped"
    attempt = row.attempts
    log_context = {"receipt_id": receipt_id, "attempt": attempt, "job_id": ctx.get("job_id")}
    if attempt > processing.MAX_ATTEMPTS:
        async with job_session(ctx) as session:
            await processing.mark_failed(
                session, rid, attempt, f"gave up after {attempt - 1} interrupted attempts"
            )
        return "failed"

    renewal = asyncio.create_task(_renew_lease(ctx, rid, attempt, lease))
    try:
        fields = await _extract(ctx, row.storage_key, row.storage_version)
    except _Permanent as error:
        async with job_session(ctx) as session:
            await processing.mark_failed(session, rid, attempt, str(error))
        log.info("receipt failed", reason=str(error), **log_context)
        return "failed"
    except _Transient as error:
        if attempt >= processing.MAX_ATTEMPTS:
            async with job_session(ctx) as session:
                await processing.mark_failed(
                    session, rid, attempt, f"{error} (gave up after {attempt} attempts)"
                )
            log.warning("receipt failed for good", reason=str(error), **log_context)
            return "failed"
        delay = retry_delay(attempt)
        async with job_session(ctx) as session:
            await processing.mark_retrying(
                session, rid, attempt, f"{error}; retrying", delay, lease
            )
        log.info("receipt will be retried", reason=str(error), defer=delay, **log_context)
        raise Retry(defer=delay) from error
    except asyncio.CancelledError:
        # The worker is shutting down or the job timed out: hand the receipt back now rather
        # than when its lease runs out.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_hand_back(ctx, rid, attempt), timeout=HAND_BACK_TIMEOUT_SECONDS)
        raise
    finally:
        renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewal

    try:
        async with job_session(ctx) as session:
            stored = await processing.mark_done(session, rid, attempt, fields)
    except SQLAlchemyError as error:
        # The lease runs out meanwhile, so the retry can claim the receipt again.
        log.warning("could not store OCR result; retrying", error=str(error), **log_context)
        raise Retry(defer=lease + retry_delay(attempt)) from error
    return "done" if stored else "superseded"


async def _extract(
    ctx: dict[str, Any], key: str, version: str | None
) -> extraction.ExtractedFields:
    engine = ctx["settings"].worker.ocr_engine
    try:
        data = await ctx["storage"].get(key, version)
    except ObjectNotFound as error:
        raise _Permanent("the receipt file is missing from storage") from error
    except StorageUnavailable as error:
        raise _Transient(f"receipt storage unavailable: {error}") from error
    try:
        # CPU-bound and blocking (Tesseract runs as a subprocess): a worker thread keeps the
        # event loop free, and concurrent jobs run on separate cores.
        return await asyncio.wait_for(
            asyncio.to_thread(extraction.extract, data, engine),
            timeout=EXTRACTION_TIMEOUT_SECONDS,
        )
    except images.ImageRejected as error:
        raise _Permanent(str(error)) from error
    except TimeoutError as error:
        raise _Transient(f"OCR took longer than {EXTRACTION_TIMEOUT_SECONDS} s") from error
    except _TRANSIENT_OCR_ERRORS as error:
        raise _Transient(f"OCR failed: {type(error).__name__}: {error}") from error
    except Exception as error:
        log.exception("receipt extraction crashed")
        raise _Permanent("the receipt could not be read (internal error)") from error


async def _hand_back(ctx: dict[str, Any], receipt_id: uuid.UUID, attempt: int) -> None:
    async with job_session(ctx) as session:
        await processing.release_claim(session, receipt_id, attempt)


async def _renew_lease(
    ctx: dict[str, Any], receipt_id: uuid.UUID, attempt: int, lease: int
) -> None:
    while True:
        await asyncio.sleep(max(lease / 3, 0.5))
        try:
            async with job_session(ctx) as session:
                if not await processing.renew_lease(session, receipt_id, attempt, lease):
                    return
        except SQLAlchemyError as error:
            log.warning("could not renew receipt lease", error=str(error))


async def sweep_receipts(ctx: dict[str, Any]) -> int:
    """Queue receipts whose processing was lost (worker killed, Redis down or flushed).
    Returns how many were queued."""
    async with job_session(ctx) as session:
        released = await processing.release_expired_leases(session)
        owed = await processing.owed_receipts(session, SWEEP_BATCH)
    if released:
        log.warning("receipt leases expired; re-queueing", count=len(released))
    queued: list[uuid.UUID] = []
    for receipt_id, attempts in owed:
        try:
            await ctx["queue"].enqueue(
                "process_receipt", str(receipt_id), job_id=processing.job_id(receipt_id, attempts)
            )
        except QueueUnavailable as error:
            log.warning("queue unavailable; receipts stay owed", error=str(error))
            break
        queued.append(receipt_id)
    async with job_session(ctx) as session:
        await processing.postpone(session, queued, ctx["settings"].worker.receipt_stale_seconds)
    if queued:
        log.info("receipts queued by the sweeper", count=len(queued))
    return len(queued)
