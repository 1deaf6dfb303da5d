"""The receipt row as the record of owed OCR work: claims and leases the job takes, its
outcomes, and what the sweeper and the gauges read.

`next_attempt_at` is the moment by which that work must have moved on: for a pending receipt,
when the sweeper may queue it again; for a processing one, when the worker's lease runs out.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import metrics
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.receipts.extraction import ExtractedFields
from expense_wise.logging import get_logger
from expense_wise.money import MAX_AMOUNT, is_currency

log = get_logger(__name__)

# Attempts (including ones cut short by a killed worker) before a receipt is failed for good.
MAX_ATTEMPTS = 4
STATUSES = ("pending", "processing", "done", "failed")
MERCHANT_MAX_LENGTH = 200
INTERRUPTED = "processing was interrupted; queued again"


def job_id(receipt_id: uuid.UUID, attempts: int) -> str:
    """The first run is `receipt:<id>`; a re-queue after an interrupted attempt gets a new id,
    because ARQ still considers a killed job's id in progress until its lock expires."""
    return f"receipt:{receipt_id}" if attempts == 0 else f"receipt:{receipt_id}:{attempts}"


async def claim(
    session: AsyncSession, receipt_id: uuid.UUID, lease_seconds: int
) -> m.Receipt | None:
    """Take the receipt for processing, or None when it is not owed (done, failed, deleted)
    or another worker holds an unexpired lease on it. One conditional UPDATE, so two workers
    never both win."""
    now = utcnow()
    result = await session.execute(
        update(m.Receipt)
        .where(
            m.Receipt.id == receipt_id,
            or_(
                m.Receipt.status == "pending",
                and_(m.Receipt.status == "processing", m.Receipt.next_attempt_at < now),
            ),
        )
        .values(
            status="processing",
            attempts=m.Receipt.attempts + 1,
            started_at=now,
            finished_at=None,
            next_attempt_at=now + dt.timedelta(seconds=lease_seconds),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return None
    await session.commit()
    return await session.get(m.Receipt, receipt_id, populate_existing=True)


async def _update_claimed(
    session: AsyncSession, receipt_id: uuid.UUID, attempt: int, **values: object
) -> bool:
    """Change a receipt only while this attempt still holds it (a superseded attempt whose
    lease expired must not overwrite its successor)."""
    result = await session.execute(
        update(m.Receipt)
        .where(
            m.Receipt.id == receipt_id,
            m.Receipt.status == "processing",
            m.Receipt.attempts == attempt,
        )
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    updated: bool = result.rowcount == 1  # type: ignore[attr-defined]
    if updated and values.get("status") in ("done", "failed"):
        metrics.RECEIPTS_FINISHED.labels(values["status"]).inc()
    return updated


async def renew_lease(
    session: AsyncSession, receipt_id: uuid.UUID, attempt: int, lease_seconds: int
) -> bool:
    return await _update_claimed(
        session,
        receipt_id,
        attempt,
        next_attempt_at=utcnow() + dt.timedelta(seconds=lease_seconds),
    )


def _clean_fields(fields: ExtractedFields) -> dict[str, object]:
    total = fields.total
    if total is not None and not (0 < total < MAX_AMOUNT and total == round(total, 4)):
        total = None
    currency = fields.currency if fields.currency and is_currency(fields.currency) else None
    merchant = (fields.merchant or "").replace("\x00", "").strip()[:MERCHANT_MAX_LENGTH]
    return {
        "merchant": merchant or None,
        "receipt_date": fields.date,
        "total": total,
        "currency": currency,
        "confidence": dict(fields.confidence),
        "raw_text": fields.raw_text.replace("\x00", ""),
    }


async def mark_done(
    session: AsyncSession, receipt_id: uuid.UUID, attempt: int, fields: ExtractedFields
) -> bool:
    return await _update_claimed(
        session,
        receipt_id,
        attempt,
        status="done",
        error=None,
        finished_at=utcnow(),
        next_attempt_at=None,
        **_clean_fields(fields),
    )


async def mark_failed(
    session: AsyncSession, receipt_id: uuid.UUID, attempt: int, error: str
) -> bool:
    return await _update_claimed(
        session,
        receipt_id,
        attempt,
        status="failed",
        error=error,
        finished_at=utcnow(),
        next_attempt_at=None,
    )


async def mark_retrying(
    session: AsyncSession,
    receipt_id: uuid.UUID,
    attempt: int,
    error: str,
    defer_seconds: float,
    stale_seconds: int,
) -> bool:
    """Back to pending; the retry is queued by the caller, and the sweeper takes over if that
    retry is lost (a grace period after it was due)."""
    return await _update_claimed(
        session,
        receipt_id,
        attempt,
        status="pending",
        error=error,
        next_attempt_at=utcnow() + dt.timedelta(seconds=defer_seconds + stale_seconds),
    )


async def release_claim(session: AsyncSession, receipt_id: uuid.UUID, attempt: int) -> bool:
    """Give up a claim without finishing (shutdown, timeout): owed again right away."""
    return await _update_claimed(
        session,
        receipt_id,
        attempt,
        status="pending",
        error=INTERRUPTED,
        next_attempt_at=utcnow(),
    )


async def release_expired_leases(session: AsyncSession) -> list[uuid.UUID]:
    """Processing receipts whose worker stopped renewing its lease go back to pending."""
    now = utcnow()
    expired = list(
        (
            await session.scalars(
                select(m.Receipt.id).where(
                    m.Receipt.status == "processing", m.Receipt.next_attempt_at < now
                )
            )
        ).all()
    )
    if expired:
        await session.execute(
            update(m.Receipt)
            .where(
                m.Receipt.id.in_(expired),
                m.Receipt.status == "processing",
                m.Receipt.next_attempt_at < now,
            )
            .values(
                status="pending",
                error=INTERRUPTED,
                next_attempt_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return expired


async def owed_receipts(session: AsyncSession, limit: int) -> list[tuple[uuid.UUID, int]]:
    """Pending receipts whose grace period is over: (id, attempts), oldest first."""
    now = utcnow()
    rows = await session.execute(
        select(m.Receipt.id, m.Receipt.attempts)
        .where(
            m.Receipt.status == "pending",
            or_(m.Receipt.next_attempt_at.is_(None), m.Receipt.next_attempt_at <= now),
        )
        .order_by(m.Receipt.next_attempt_at, m.Receipt.id)
        .limit(limit)
    )
    return [(row.id, row.attempts) for row in rows]


async def postpone(
    session: AsyncSession, receipt_ids: Sequence[uuid.UUID], stale_seconds: int
) -> None:
    """Just queued: give the job a grace period before the sweeper looks again."""
    if not receipt_ids:
        return
    now = utcnow()
    await session.execute(
        update(m.Receipt)
        .where(m.Receipt.id.in_(receipt_ids), m.Receipt.status == "pending")
        .values(next_attempt_at=now + dt.timedelta(seconds=stale_seconds), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    rows = await session.execute(select(m.Receipt.status, func.count()).group_by(m.Receipt.status))
    for status, count in rows.tuples():
        counts[status] = int(count)
    return counts


async def oldest_unfinished_age(session: AsyncSession) -> float:
    """Seconds since the oldest receipt still pending or processing was uploaded (0: none)."""
    oldest = await session.scalar(
        select(func.min(m.Receipt.created_at)).where(
            m.Receipt.status.in_(("pending", "processing"))
        )
    )
    return max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
