"""The receipt state machine on PostgreSQL: claiming, leases, the sweeper's queries."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from expense_wise.db.types import utcnow
from expense_wise.domain.receipts import processing
from expense_wise.domain.receipts.extraction import ExtractedFields
from tests.conftest import Account, AppClient
from tests.receipts.conftest import insert_receipt, load_receipt, session_factory


def fields(**overrides: Any) -> ExtractedFields:
    values: dict[str, Any] = {
        "merchant": "Corner Shop",
        "date": dt.date(2025, 1, 2),
        "total": Decimal("12.30"),
        "currency": "EUR",
        "confidence": {"merchant": 0.9, "date": 0.8, "total": 0.7, "currency": 0.5},
        "raw_text": "CORNER SHOP\nTOTAL 12.30",
    }
    values.update(overrides)
    return ExtractedFields(**values)


async def test_only_one_of_two_concurrent_claims_wins(
    client: AppClient[Any], alice: Account
) -> None:
    row = await insert_receipt(client, alice, status="pending", attempts=0)
    factory = session_factory(client)

    async def claim() -> Any:
        async with factory() as session:
            return await processing.claim(session, row.id, lease_seconds=60)

    results = await asyncio.gather(claim(), claim(), claim())
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert winners[0].status == "processing" and winners[0].attempts == 1
    assert winners[0].next_attempt_at > utcnow() + dt.timedelta(seconds=50)


async def test_expired_lease_can_be_claimed_again_and_the_old_attempt_is_ignored(
    client: AppClient[Any], alice: Account
) -> None:
    row = await insert_receipt(client, alice, status="pending", attempts=0)
    factory = session_factory(client)
    async with factory() as session:
        first = await processing.claim(session, row.id, lease_seconds=60)
        assert first is not None
        # A live lease keeps others out.
        assert await processing.claim(session, row.id, lease_seconds=60) is None
        assert await processing.renew_lease(session, row.id, 1, lease_seconds=-1)  # expire it
        second = await processing.claim(session, row.id, lease_seconds=60)
        assert second is not None and second.attempts == 2
        # The first attempt finishing late must not overwrite its successor.
        assert not await processing.mark_done(session, row.id, 1, fields())
        assert await processing.mark_done(session, row.id, 2, fields())
    stored = await load_receipt(client, row.id)
    assert stored is not None
    assert (stored.status, stored.merchant, stored.total, stored.next_attempt_at) == (
        "done",
        "Corner Shop",
        Decimal("12.30"),
        None,
    )
    assert stored.finished_at is not None and stored.error is None
    async with factory() as session:
        assert await processing.claim(session, row.id, lease_seconds=60) is None  # done stays done


async def test_sweeper_queries_release_expired_leases_and_find_owed_work(
    client: AppClient[Any], alice: Account
) -> None:
    past = utcnow() - dt.timedelta(seconds=5)
    future = utcnow() + dt.timedelta(minutes=5)
    expired = await insert_receipt(
        client, alice, status="processing", attempts=1, next_attempt_at=past
    )
    running = await insert_receipt(
        client, alice, status="processing", attempts=1, next_attempt_at=future
    )
    owed = await insert_receipt(client, alice, status="pending", attempts=0, next_attempt_at=past)
    waiting = await insert_receipt(
        client, alice, status="pending", attempts=2, next_attempt_at=future
    )
    await insert_receipt(client, alice, status="done", next_attempt_at=past)
    await insert_receipt(client, alice, status="failed", next_attempt_at=past)

    async with session_factory(client)() as session:
        assert await processing.release_expired_leases(session) == [expired.id]
        found = dict(await processing.owed_receipts(session, limit=10))
        assert found == {expired.id: 1, owed.id: 0}
        await processing.postpone(session, list(found), stale_seconds=60)
        assert await processing.owed_receipts(session, limit=10) == []
    released = await load_receipt(client, expired.id)
    assert released is not None and released.status == "pending"
    assert "interrupted" in (released.error or "")
    for untouched, status in ((running, "processing"), (waiting, "pending")):
        current = await load_receipt(client, untouched.id)
        assert current is not None and current.status == status
        assert current.next_attempt_at == untouched.next_attempt_at


async def test_job_ids_change_after_an_interrupted_attempt() -> None:
    receipt_id = uuid.uuid4()
    assert processing.job_id(receipt_id, 0) == f"receipt:{receipt_id}"
    assert processing.job_id(receipt_id, 2) == f"receipt:{receipt_id}:2"


async def test_implausible_ocr_values_are_not_stored(
    client: AppClient[Any], alice: Account
) -> None:
    row = await insert_receipt(client, alice, status="pending", attempts=0)
    async with session_factory(client)() as session:
        assert await processing.claim(session, row.id, lease_seconds=60) is not None
        assert await processing.mark_done(
            session,
            row.id,
            1,
            fields(merchant="X" * 500, total=Decimal("123456789012345.00"), currency="XYZ"),
        )
    stored = await load_receipt(client, row.id)
    assert stored is not None
    assert stored.merchant == "X" * 200
    assert stored.total is None and stored.currency is None
