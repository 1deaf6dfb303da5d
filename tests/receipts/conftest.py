"""Receipt test helpers: sample files (real receipts and crafted bad ones), uploads, polling."""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from arq.connections import ArqRedis
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from expense_wise.db import models as m
from expense_wise.db.engine import create_engine, create_session_factory
from expense_wise.jobs import JOB_REGISTRY
from expense_wise.runtime.arq_runner import ArqQueue
from expense_wise.runtime.in_process import InProcessQueue
from expense_wise.storage import create_storage
from tests.conftest import RECEIPTS_DIR, Account, AppClient, missing_data

# A receipt that OCR reads completely (merchant, date, total): CAHAYA TIMUR TRADING CO,
# 14.10 MYR on 2017-12-29.
COMPLETE_RECEIPT = "trading.jpg"
FINAL_STATUSES = ("done", "failed")


def receipt_bytes(name: str = COMPLETE_RECEIPT) -> bytes:
    path = RECEIPTS_DIR / name
    if not path.exists():
        missing_data(f"receipt sample {path} not available")
    return path.read_bytes()


def png_bytes(width: int = 40, height: int = 20) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header promises 10^10 pixels: decoding it would exhaust memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    """A JPEG cut off after its headers: it sniffs as JPEG but cannot be decoded."""
    return receipt_bytes()[:600]


async def upload(
    client: AppClient[Any], account: Account, data: bytes, filename: str = "receipt.jpg", **kw: Any
) -> Any:
    return await client.post(
        "/api/v1/receipts",
        files={"file": (filename, data, kw.get("content_type", "application/octet-stream"))},
        headers=account.headers,
    )


async def wait_for_status(
    client: AppClient[Any],
    account: Account,
    receipt_id: str,
    statuses: tuple[str, ...] = FINAL_STATUSES,
    timeout: float = 60.0,
    interval: float = 0.1,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/api/v1/receipts/{receipt_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"receipt still {body['status']} after {timeout} s: {body}")
        await asyncio.sleep(interval)


def new_id() -> str:
    return str(uuid.uuid4())


async def insert_receipt(client: AppClient[Any], account: Account, **values: Any) -> m.Receipt:
    """A receipt row written straight to the database (default: OCR done, nothing read)."""
    receipt_id = values.pop("id", uuid.uuid4())
    user_id = uuid.UUID(account.id)
    fields: dict[str, Any] = {
        "status": "done",
        "sha256": hashlib.sha256(receipt_id.bytes).hexdigest(),
        "content_type": "image/jpeg",
        "size": 1,
        "storage_key": f"receipts/{user_id}/{receipt_id}",
        "attempts": 1,
        "confidence": {},
    }
    fields.update(values)
    async with session_factory(client)() as session:
        row = m.Receipt(id=receipt_id, user_id=user_id, **fields)
        session.add(row)
        await session.commit()
    return row


async def load_receipt(client: AppClient[Any], receipt_id: str | uuid.UUID) -> m.Receipt | None:
    async with session_factory(client)() as session:
        return await session.get(m.Receipt, uuid.UUID(str(receipt_id)))


# The app under test runs on the test client's own event loop (in another thread), so its
# engine and Redis pool must not be used from test code: tests get their own, on this loop.
_engines: dict[str, AsyncEngine] = {}


def session_factory(client: AppClient[Any]) -> async_sessionmaker[AsyncSession]:
    settings = client.app.state.settings
    engine = _engines.get(settings.database.url)
    if engine is None:
        engine = _engines[settings.database.url] = create_engine(settings.database)
    return create_session_factory(engine)


@pytest.fixture(scope="session", autouse=True)
async def _dispose_test_engines() -> AsyncIterator[None]:
    yield
    for engine in _engines.values():
        await engine.dispose()
    _engines.clear()


@asynccontextmanager
async def job_context(client: AppClient[Any], **overrides: Any) -> AsyncIterator[dict[str, Any]]:
    """What a worker hands a job (session factory, storage, queue), built on the test loop."""
    settings = client.app.state.settings
    redis = ArqRedis.from_url(settings.redis.url) if settings.redis.url else None
    ctx: dict[str, Any] = {
        "settings": settings,
        "session_factory": session_factory(client),
        "storage": create_storage(settings.storage),
        "queue": ArqQueue(redis, settings.redis.queue_name)
        if redis
        else InProcessQueue(JOB_REGISTRY),
        "job_try": 1,
    }
    ctx.update(overrides)
    try:
        yield ctx
    finally:
        if redis is not None:
            await redis.aclose()
