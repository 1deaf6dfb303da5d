"""Receipts: validate and store uploads, list and read them, and turn them into expenses. The
state changes of the OCR job and its sweeper are in `processing`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import api, paging
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.expenses import schemas as expense_schemas
from expense_wise.domain.expenses import services as expenses
from expense_wise.domain.receipts import images, schemas
from expense_wise.domain.receipts.extraction.confidence import fields_to_review
from expense_wise.domain.receipts.processing import job_id
from expense_wise.logging import get_logger
from expense_wise.money import format_amount
from expense_wise.runtime.queue import JobQueue, QueueUnavailable
from expense_wise.storage import ObjectNotFound, Storage, StorageUnavailable

log = get_logger(__name__)

# The expense field each extracted field becomes.
EXPENSE_FIELD: dict[str, schemas.ReviewField] = {
    "merchant": "merchant",
    "date": "occurred_on",
    "total": "amount",
}
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/tiff": ".tiff",
    "application/pdf": ".pdf",
}


def storage_key(user_id: uuid.UUID, receipt_id: uuid.UUID) -> str:
    return f"receipts/{user_id}/{receipt_id}"


def file_name(row: m.Receipt) -> str:
    return f"receipt-{row.id}{_EXTENSIONS.get(row.content_type, '')}"


def _formatted_total(row: m.Receipt) -> str | None:
    if row.total is None:
        return None
    return format_amount(row.total, row.currency) if row.currency else str(row.total)


def to_schema(row: m.Receipt) -> schemas.Receipt:
    extracted = None
    if row.status == "done":
        extracted = schemas.ExtractedFields(
            merchant=row.merchant,
            date=row.receipt_date,
            total=_formatted_total(row),
            currency=row.currency,
            confidence=dict(row.confidence or {}),
            raw_text=row.raw_text,
            needs_review=bool(review_fields(row)),
            review_fields=review_fields(row),
        )
    return schemas.Receipt(
        id=row.id,
        status=row.status,  # type: ignore[arg-type]
        error=row.error,
        sha256=row.sha256,
        content_type=row.content_type,
        size=row.size,
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        extracted=extracted,
        expense_id=row.expense_id,
    )


# --- Upload ----------------------------------------------------------------------------


async def validate_upload(data: bytes, max_bytes: int) -> str:
    """The file's media type, judged by its bytes; raises 413, 415 or 422.

    Only the header is read, plus a check for truncation that holds at most 1/64 of the
    pixels (images.probe): decoding belongs to the OCR worker, whose memory is sized for it.
    """
    if len(data) > max_bytes:
        raise api.ApiError(413, f"the file is larger than the limit of {max_bytes} bytes")
    if images.sniff_content_type(data) is None:
        raise api.ApiError(
            415, "unsupported file type: upload a JPEG, PNG, WebP or TIFF image or a PDF"
        )
    try:
        # Still CPU work for a large JPEG: keep it off the event loop.
        return await asyncio.to_thread(images.probe, data)
    except images.ImageRejected as error:
        raise api.unprocessable(str(error)) from error


async def _existing_id(session: AsyncSession, user_id: uuid.UUID, digest: str) -> uuid.UUID | None:
    existing: uuid.UUID | None = await session.scalar(
        select(m.Receipt.id).where(m.Receipt.user_id == user_id, m.Receipt.sha256 == digest)
    )
    return existing


def _already_uploaded(receipt_id: uuid.UUID) -> api.ApiError:
    return api.conflict("this file was already uploaded", receipt_id=str(receipt_id))


async def _discard(storage: Storage, key: str) -> None:
    try:
        await storage.delete(key)
    except Exception as error:  # the row was never written; an orphan object is harmless
        log.warning("could not delete unreferenced receipt object", key=key, error=str(error))


async def create_receipt(
    session: AsyncSession,
    storage: Storage,
    user_id: uuid.UUID,
    data: bytes,
    max_bytes: int,
    stale_seconds: int,
) -> m.Receipt:
    """Validate, store the object, then commit the row (so no row ever points at nothing)."""
    content_type = await validate_upload(data, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    existing = await _existing_id(session, user_id, digest)
    if existing is not None:
        raise _already_uploaded(existing)
    receipt_id = uuid.uuid4()
    key = storage_key(user_id, receipt_id)
    try:
        stored = await storage.put(key, data, content_type)
    except StorageUnavailable as error:
        log.warning("receipt storage unavailable", error=str(error))
        raise api.ApiError(503, "receipt storage is unavailable; try again later") from error
    now = utcnow()
    row = m.Receipt(
        id=receipt_id,
        user_id=user_id,
        status="pending",
        sha256=digest,
        content_type=content_type,
        size=len(data),
        storage_key=key,
        storage_version=stored.version_id,
        attempts=0,
        next_attempt_at=now + dt.timedelta(seconds=stale_seconds),
        confidence={},
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        await session.commit()
    except IntegrityError as error:
        # The same file uploaded twice at once: the unique (user, sha256) picked a winner.
        await session.rollback()
        await _discard(storage, key)
        existing = await _existing_id(session, user_id, digest)
        if existing is None:
            raise
        raise _already_uploaded(existing) from error
    except BaseException:
        await _discard(storage, key)
        raise
    return row


async def queue_processing(queue: JobQueue, session: AsyncSession, row: m.Receipt) -> bool:
    """Queue OCR for a committed receipt. With the queue down the receipt stays pending and is
    marked owed now, so the sweeper's next run queues it."""
    try:
        await queue.enqueue("process_receipt", str(row.id), job_id=job_id(row.id, row.attempts))
    except QueueUnavailable as error:
        log.warning(
            "could not queue receipt; the sweeper will", receipt_id=str(row.id), error=str(error)
        )
        await session.execute(
            update(m.Receipt)
            .where(m.Receipt.id == row.id, m.Receipt.status == "pending")
            .values(next_attempt_at=utcnow())
        )
        await session.commit()
        return False
    return True


# --- Reading ---------------------------------------------------------------------------


def _without_nul(field: str, value: str | None) -> str:
    """PostgreSQL text cannot hold NUL characters: refuse them as bad input, not a 500."""
    if value and "\x00" in value:
        raise api.field_error(field, "must not contain NUL characters")
    return value or ""


async def get_receipt(
    session: AsyncSession, user_id: uuid.UUID, receipt_id: uuid.UUID
) -> m.Receipt:
    return await api.get_owned(session, m.Receipt, receipt_id, user_id, "receipt")


async def list_receipts(
    session: AsyncSession,
    user_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    q: str | None = None,
    status: str | None = None,
) -> tuple[Sequence[m.Receipt], str | None]:
    conditions: list[ColumnElement[bool]] = [m.Receipt.user_id == user_id]
    if status is not None:
        conditions.append(m.Receipt.status == status)
    if q and q.strip():
        text = _without_nul("q", q).strip().lower()
        conditions.append(
            or_(
                func.lower(m.Receipt.raw_text).contains(text, autoescape=True),
                func.lower(m.Receipt.merchant).contains(text, autoescape=True),
            )
        )
    if cursor:
        position = paging.decode_cursor(cursor)
        created_at = position.datetime
        # Spelled out rather than a row-value comparison so each side binds with its column type.
        conditions.append(
            or_(
                m.Receipt.created_at < created_at,
                and_(m.Receipt.created_at == created_at, m.Receipt.id < position.id),
            )
        )
    rows = (
        await session.scalars(
            select(m.Receipt)
            .where(*conditions)
            .order_by(m.Receipt.created_at.desc(), m.Receipt.id.desc())
            .limit(limit + 1)
        )
    ).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = paging.encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, next_cursor


async def download(storage: Storage, row: m.Receipt) -> tuple[str | None, bytes | None]:
    """(presigned URL, None) where storage offers one, else (None, the file's bytes)."""
    try:
        url = await storage.presigned_url(row.storage_key, row.storage_version)
        if url is not None:
            return url, None
        return None, await storage.get(row.storage_key, row.storage_version)
    except ObjectNotFound as error:
        raise api.not_found("receipt file") from error
    except StorageUnavailable as error:
        raise api.ApiError(503, "receipt storage is unavailable; try again later") from error


async def delete_receipt(
    session: AsyncSession, storage: Storage, user_id: uuid.UUID, receipt_id: uuid.UUID
) -> None:
    """Object first: if storage is down nothing changes and the client can simply retry."""
    row = await get_receipt(session, user_id, receipt_id)
    try:
        await storage.delete(row.storage_key)
    except StorageUnavailable as error:
        raise api.ApiError(503, "receipt storage is unavailable; try again later") from error
    await session.delete(row)
    await session.commit()


# --- Receipt to expense ----------------------------------------------------------------


def review_fields(row: m.Receipt) -> list[schemas.ReviewField]:
    """The expense fields whose reading is too unsure to take without a person's check."""
    return [EXPENSE_FIELD[name] for name in fields_to_review(dict(row.confidence or {}))]


def _check_reviewed(row: m.Receipt, overrides: schemas.ExpenseFromReceipt) -> None:
    """409 for a receipt that needs review, unless the client sent the unsure fields or
    confirmed the reading."""
    unsure = [name for name in review_fields(row) if getattr(overrides, name) is None]
    if not unsure or overrides.confirm:
        return
    read = {
        "merchant": row.merchant,
        "occurred_on": row.receipt_date,
        "amount": _formatted_total(row),
    }
    confidence = dict(row.confidence or {})
    extracted_name = {expense: extracted for extracted, expense in EXPENSE_FIELD.items()}
    raise api.conflict(
        f"the receipt needs review: send {', '.join(unsure)}, or confirm: true to take "
        "them as read",
        review_fields=unsure,
        review=[
            {
                "field": name,
                "read": None if read[name] is None else str(read[name]),
                "confidence": confidence.get(extracted_name[name], 0.0),
            }
            for name in unsure
        ],
    )


async def create_expense_from_receipt(
    session: AsyncSession,
    user_id: uuid.UUID,
    receipt_id: uuid.UUID,
    overrides: schemas.ExpenseFromReceipt,
) -> expense_schemas.Expense:
    """An expense from what OCR read, overrides winning; linked both ways."""
    receipt = await get_receipt(session, user_id, receipt_id)
    for name in ("merchant", "note", "payment_method"):
        _without_nul(name, getattr(overrides, name))
    for tag in overrides.tags:
        _without_nul("tags", tag)
    if receipt.expense_id is not None:
        raise api.conflict(
            "this receipt already has an expense", expense_id=str(receipt.expense_id)
        )
    amount = overrides.amount if overrides.amount is not None else receipt.total
    occurred_on = overrides.occurred_on or receipt.receipt_date
    merchant = overrides.merchant or receipt.merchant
    missing = [
        name
        for name, value in (
            ("amount", amount),
            ("occurred_on", occurred_on),
            ("merchant", merchant),
        )
        if value is None
    ]
    if missing:
        # 409: what the receipt holds, not the request, is missing something.
        raise api.conflict(
            f"not found on the receipt, send them in the body: {', '.join(missing)}",
            errors=[
                {"field": name, "message": "not found on the receipt; provide a value"}
                for name in missing
            ],
        )
    assert amount is not None and occurred_on is not None and merchant is not None
    _check_reviewed(receipt, overrides)
    data = expense_schemas.ExpenseCreate(
        amount=format(amount, "f") if isinstance(amount, Decimal) else amount,
        occurred_on=occurred_on,
        merchant=merchant,
        currency=overrides.currency or receipt.currency,
        category_id=overrides.category_id,
        note=overrides.note,
        tags=overrides.tags,
        payment_method=overrides.payment_method,
    )
    # The same path as any new expense: category guess, duplicate hint, budget alerts.
    expense = await expenses.add_expense(session, user_id, data, receipt_id=receipt.id)
    # Conditional, so two concurrent requests cannot both link an expense to one receipt.
    linked = await session.execute(
        update(m.Receipt)
        .where(m.Receipt.id == receipt.id, m.Receipt.expense_id.is_(None))
        .values(expense_id=expense.id)
        .execution_options(synchronize_session=False)
    )
    if linked.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise api.conflict("this receipt already has an expense")
    await session.commit()
    return expense
