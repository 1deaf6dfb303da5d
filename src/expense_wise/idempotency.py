"""Idempotency-Key support for POST endpoints: a retry with the same key and body gets the
first response back and creates nothing; the same key with another body is refused (422).

The key row is written in the same transaction as the resource, so a crash between the two is
impossible, and two concurrent requests with one key cannot both create: the loser hits the
primary key, rolls back and replays the winner's response.

Keys expire after IDEMPOTENCY_KEY_TTL (24 h): a retry comes within minutes, and keeping every
key forever would grow the table with every create. An expired key counts as unused even
before the hourly sweeper (`expire_idempotency_keys`) deletes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Response
from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import conflict, field_error
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.logging import get_logger

log = get_logger(__name__)
MAX_KEY_LENGTH = 200
SWEEP_INTERVAL_SECONDS = 3600
SWEEP_BATCH = 10_000  # rows per DELETE, so one sweep never holds long locks


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _replay(row: m.IdempotencyKey, fingerprint: str) -> Response[Any]:
    if row.request_hash != fingerprint:
        # 409: the request is well formed; it conflicts with the key's first request.
        raise conflict("this Idempotency-Key was already used with a different request body")
    return Response(
        content=row.response_body,
        status_code=row.status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


async def run_idempotent(
    session: AsyncSession,
    user_id: uuid.UUID,
    key: str | None,
    fingerprint: str,
    create: Callable[[], Awaitable[tuple[int, Any]]],
    ttl_seconds: int,
) -> Response[Any]:
    """Run `create` (which adds rows but does not commit) once per (user, key) within
    `ttl_seconds` of the key's first use."""
    if key is None:
        status_code, body = await create()
        await session.commit()
        return Response(content=body, status_code=status_code)
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise field_error("Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} characters")
    existing = await session.get(m.IdempotencyKey, (user_id, key))
    if existing is not None:
        if existing.created_at > utcnow() - dt.timedelta(seconds=ttl_seconds):
            return _replay(existing, fingerprint)
        await session.delete(existing)  # expired, not yet swept: the key is free again
        await session.flush()
    status_code, body = await create()
    encoded = msgspec.json.encode(body)
    session.add(
        m.IdempotencyKey(
            user_id=user_id,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response_body=encoded,
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        winner = await session.scalar(
            select(m.IdempotencyKey).where(
                m.IdempotencyKey.user_id == user_id, m.IdempotencyKey.key == key
            )
        )
        if winner is None:
            raise
        return _replay(winner, fingerprint)
    return Response(content=encoded, status_code=status_code, media_type="application/json")


async def expire_idempotency_keys(ctx: dict[str, Any]) -> int:
    """Periodic job: delete the keys older than IDEMPOTENCY_KEY_TTL; returns how many."""
    ttl = ctx["settings"].server.idempotency_key_ttl
    cutoff = utcnow() - dt.timedelta(seconds=ttl)
    deleted = 0
    while True:
        async with ctx["session_factory"]() as session:
            expired = (
                select(m.IdempotencyKey.user_id, m.IdempotencyKey.key)
                .where(m.IdempotencyKey.created_at < cutoff)
                .limit(SWEEP_BATCH)
            )
            result = await session.execute(
                delete(m.IdempotencyKey).where(
                    tuple_(m.IdempotencyKey.user_id, m.IdempotencyKey.key).in_(expired)
                )
            )
            await session.commit()
        count: int = result.rowcount  # type: ignore[attr-defined]
        deleted += count
        if count < SWEEP_BATCH:
            break
    if deleted:
        log.info("idempotency keys expired", count=deleted)
    return deleted
