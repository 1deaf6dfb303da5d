"""Idempotency-Key handling on a SQLite file: the first response is replayed, a changed body
is refused, and a concurrent loser replays the winner. No server needed."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import msgspec
import pytest
from litestar.exceptions import HTTPException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from expense_wise.db import models as m
from expense_wise.idempotency import (
    MAX_KEY_LENGTH,
    expire_idempotency_keys,
    request_fingerprint,
    run_idempotent,
)

USER = uuid.UUID(int=7)
TTL = 86_400


@pytest.fixture
async def sessions(tmp_path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(m.IdempotencyKey.__table__.create)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


class Creator:
    """A `create` callback that counts its calls; `during` runs inside it (a racing request)."""

    def __init__(self, status: int = 201, body: object = None, during=None) -> None:
        self.calls = 0
        self.status = status
        self.body = body if body is not None else {"id": "e1", "amount": "12.50"}
        self.during = during

    async def __call__(self) -> tuple[int, object]:
        self.calls += 1
        if self.during is not None:
            await self.during()
        return self.status, self.body


async def stored_keys(sessions) -> list[tuple[str, str, int, bytes]]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                m.IdempotencyKey.key,
                m.IdempotencyKey.request_hash,
                m.IdempotencyKey.status_code,
                m.IdempotencyKey.response_body,
            ).order_by(m.IdempotencyKey.key)
        )
        return [tuple(row) for row in rows]


def test_the_fingerprint_covers_method_path_and_body_unambiguously():
    fingerprint = request_fingerprint("POST", "/api/v1/expenses", b'{"a":1}')
    expected = hashlib.sha256()
    for part in (b"POST", b"/api/v1/expenses", b'{"a":1}'):
        expected.update(len(part).to_bytes(8, "big") + part)
    assert fingerprint == expected.hexdigest()
    assert request_fingerprint("POST", "/a", b"bc") != request_fingerprint("POST", "/ab", b"c")
    assert request_fingerprint("POST", "/a", b"x") != request_fingerprint("PUT", "/a", b"x")


async def test_without_a_key_every_request_creates(sessions):
    create = Creator()
    async with sessions() as session:
        response = await run_idempotent(session, USER, None, "f1", create, TTL)
        assert response.status_code == 201
        assert response.content == {"id": "e1", "amount": "12.50"}
        await run_idempotent(session, USER, None, "f1", create, TTL)
    assert create.calls == 2
    assert await stored_keys(sessions) == []


async def test_a_retry_replays_the_first_response_and_creates_nothing(sessions):
    create = Creator()
    async with sessions() as session:
        first = await run_idempotent(session, USER, "key-1", "f1", create, TTL)
    assert first.status_code == 201
    assert first.media_type == "application/json"
    assert msgspec.json.decode(first.content) == {"id": "e1", "amount": "12.50"}
    assert "idempotent-replayed" not in {name.lower() for name in first.headers}
    assert await stored_keys(sessions) == [("key-1", "f1", 201, b'{"id":"e1","amount":"12.50"}')]
    async with sessions() as session:
        replay = await run_idempotent(session, USER, "key-1", "f1", create, TTL)
    assert create.calls == 1
    assert replay.status_code == 201
    assert replay.content == b'{"id":"e1","amount":"12.50"}'
    assert replay.media_type == "application/json"
    assert replay.headers["Idempotent-Replayed"] == "true"
    # Keys are per user: another user's identical key creates.
    async with sessions() as session:
        other = await run_idempotent(session, uuid.UUID(int=8), "key-1", "f1", create, TTL)
    assert other.status_code == 201 and create.calls == 2


async def test_the_same_key_with_another_body_is_409(sessions):
    async with sessions() as session:
        await run_idempotent(session, USER, "key-1", "f1", Creator(), TTL)
    create = Creator()
    async with sessions() as session:
        with pytest.raises(HTTPException) as raised:
            await run_idempotent(session, USER, "key-1", "f2", create, TTL)
    assert raised.value.status_code == 409
    assert raised.value.detail == (
        "this Idempotency-Key was already used with a different request body"
    )
    assert create.calls == 0


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1)])
async def test_key_length_is_checked(sessions, key):
    create = Creator()
    async with sessions() as session:
        with pytest.raises(HTTPException) as raised:
            await run_idempotent(session, USER, key, "f1", create, TTL)
    assert raised.value.status_code == 422
    assert raised.value.detail == "Idempotency-Key: must be 1 to 200 characters"
    assert raised.value.extra == {
        "errors": [{"field": "Idempotency-Key", "message": "must be 1 to 200 characters"}]
    }
    assert create.calls == 0


@pytest.mark.parametrize("key", ["k", "k" * MAX_KEY_LENGTH])
async def test_keys_of_one_to_200_characters_are_accepted(sessions, key):
    async with sessions() as session:
        response = await run_idempotent(session, USER, key, "f1", Creator(), TTL)
    assert response.status_code == 201
    assert MAX_KEY_LENGTH == 200


async def racing_winner(sessions, key: str, fingerprint: str) -> None:
    """Another request with the same key commits first."""
    async with sessions() as other:
        other.add(
            m.IdempotencyKey(
                user_id=USER,
                key=key,
                request_hash=fingerprint,
                status_code=201,
                response_body=b'{"id":"winner"}',
            )
        )
        await other.commit()


async def test_a_concurrent_loser_replays_the_winner(sessions):
    create = Creator(during=lambda: racing_winner(sessions, "key-1", "f1"))
    async with sessions() as session:
        response = await run_idempotent(session, USER, "key-1", "f1", create, TTL)
    assert response.content == b'{"id":"winner"}'
    assert response.headers["Idempotent-Replayed"] == "true"
    assert await stored_keys(sessions) == [("key-1", "f1", 201, b'{"id":"winner"}')]


async def test_a_concurrent_winner_with_another_body_makes_the_loser_409(sessions):
    create = Creator(during=lambda: racing_winner(sessions, "key-1", "other"))
    async with sessions() as session:
        with pytest.raises(HTTPException) as raised:
            await run_idempotent(session, USER, "key-1", "f1", create, TTL)
    assert raised.value.status_code == 409


async def test_an_integrity_error_without_a_winner_is_raised(sessions):
    await racing_winner(sessions, "taken", "f0")
    async with sessions() as other:  # another user's key of the same name is no winner
        other.add(
            m.IdempotencyKey(
                user_id=uuid.UUID(int=8),
                key="key-1",
                request_hash="f1",
                status_code=201,
                response_body=b'{"id":"not yours"}',
            )
        )
        await other.commit()

    async def duplicate_row() -> tuple[int, object]:
        # The resource itself breaks a constraint: not a race on the key.
        session.add(
            m.IdempotencyKey(
                user_id=USER, key="taken", request_hash="x", status_code=201, response_body=b""
            )
        )
        return 201, {}

    async with sessions() as session:
        with pytest.raises(IntegrityError):
            await run_idempotent(session, USER, "key-1", "f1", duplicate_row, TTL)
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(m.IdempotencyKey))
    assert count == 2


async def age_keys(sessions, seconds: float) -> None:
    async with sessions() as session:
        keys = (await session.scalars(select(m.IdempotencyKey))).all()
        for key in keys:
            key.created_at = key.created_at - dt.timedelta(seconds=seconds)
        await session.commit()


async def test_an_expired_key_is_free_again(sessions):
    create = Creator()
    async with sessions() as session:
        await run_idempotent(session, USER, "key-1", "f1", create, TTL)
    await age_keys(sessions, TTL - 60)
    async with sessions() as session:
        replay = await run_idempotent(session, USER, "key-1", "f1", create, TTL)
    assert replay.headers["Idempotent-Replayed"] == "true" and create.calls == 1
    async with sessions() as session:  # still within the TTL: a changed body is refused
        with pytest.raises(HTTPException):
            await run_idempotent(session, USER, "key-1", "f2", create, TTL)
    await age_keys(sessions, 120)  # now past the TTL, not yet swept
    async with sessions() as session:
        fresh = await run_idempotent(session, USER, "key-1", "f2", create, TTL)
    assert fresh.status_code == 201 and create.calls == 2
    assert "Idempotent-Replayed" not in fresh.headers
    assert [(key, fingerprint) for key, fingerprint, *_ in await stored_keys(sessions)] == [
        ("key-1", "f2")
    ]


async def test_the_sweeper_deletes_expired_keys_in_batches(sessions, monkeypatch):
    from expense_wise import idempotency

    monkeypatch.setattr(idempotency, "SWEEP_BATCH", 2)
    async with sessions() as session:
        for n in range(5):
            await run_idempotent(session, USER, f"old-{n}", "f", Creator(), TTL)
    await age_keys(sessions, TTL + 10)
    async with sessions() as session:
        await run_idempotent(session, USER, "new", "f", Creator(), TTL)
    rounds = []

    def counting_sessions():
        rounds.append(1)
        return sessions()

    ctx = {
        "settings": SimpleNamespace(server=SimpleNamespace(idempotency_key_ttl=TTL)),
        "session_factory": counting_sessions,
    }
    logs: list[tuple[str, dict]] = []
    # The module's logger itself is replaced: structlog caches loggers once the app has
    # configured it, so capture_logs() sees nothing in a full run.
    monkeypatch.setattr(
        idempotency, "log", SimpleNamespace(info=lambda event, **kw: logs.append((event, kw)))
    )
    assert await expire_idempotency_keys(ctx) == 5
    assert len(rounds) == 3  # DELETEs of 2, 2 and 1 rows
    assert logs == [("idempotency keys expired", {"count": 5})]
    assert [key for key, *_ in await stored_keys(sessions)] == ["new"]
    assert await expire_idempotency_keys(ctx) == 0
    assert len(logs) == 1
