"""Idempotency keys expire after IDEMPOTENCY_KEY_TTL: an expired key is free again at once, and
the hourly sweeper, run here by a real ARQ worker, deletes the expired rows."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from expense_wise.jobs import JOB_REGISTRY
from tests.conftest import (
    Account,
    enqueue_job,
    expense_body,
    register,
    run_sql,
    run_worker_burst,
    running_app,
)


def age_key(env: dict[str, str], key: str, hours: float) -> None:
    run_sql(
        env,
        "UPDATE idempotency_keys SET created_at = now() - make_interval(secs => %s) WHERE key = %s",
        hours * 3600,
        key,
    )


async def create(client: AsyncTestClient[Any], account: Account, key: str, **body: Any) -> Any:
    headers = {**account.headers, "Idempotency-Key": key}
    return await client.post("/api/v1/expenses", json=expense_body(**body), headers=headers)


async def test_an_expired_key_is_free_again_before_the_sweep(
    client: AsyncTestClient[Any], base_env: dict[str, str], alice: Account
) -> None:
    first = await create(client, alice, "monthly-rent")
    assert first.status_code == 201
    age_key(base_env, "monthly-rent", 23)
    replay = await create(client, alice, "monthly-rent")
    assert replay.json()["id"] == first.json()["id"]  # within 24 h: the same response

    age_key(base_env, "monthly-rent", 25)
    reused = await create(client, alice, "monthly-rent", amount="99")  # another body, too
    assert reused.status_code == 201, reused.text
    assert reused.json()["id"] != first.json()["id"]
    again = await create(client, alice, "monthly-rent", amount="99")
    assert again.json()["id"] == reused.json()["id"]  # and the key is remembered anew


async def test_the_sweeper_deletes_expired_keys_only(
    client: AsyncTestClient[Any], base_env: dict[str, str], alice: Account, bob: Account
) -> None:
    for account, key in ((alice, "old"), (alice, "new"), (bob, "old")):
        assert (await create(client, account, key)).status_code == 201
    run_sql(
        base_env,
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
        "WHERE key = 'old' AND user_id = %s",
        alice.id,
    )
    await enqueue_job(base_env, "expire_idempotency_keys")  # what the hourly cron queues
    assert await run_worker_burst(base_env) >= 1
    rows = run_sql(base_env, "SELECT user_id::text, key FROM idempotency_keys ORDER BY key")
    assert sorted(rows) == sorted([(alice.id, "new"), (bob.id, "old")])
    # The expenses the keys guarded stay.
    listed = await client.get("/api/v1/expenses", headers=alice.headers)
    assert len(listed.json()["items"]) == 2


async def test_the_ttl_is_a_setting(base_env: dict[str, str]) -> None:
    env = {**base_env, "IDEMPOTENCY_KEY_TTL": "1h"}
    async with running_app(env) as client:
        account = await register(client)
        first = await create(client, account, "k")
        age_key(env, "k", 1.5)
        assert (await create(client, account, "k")).json()["id"] != first.json()["id"]


def test_the_sweeper_runs_hourly() -> None:
    [entry] = [
        job for job in JOB_REGISTRY.cron_jobs() if job.name.endswith("expire_idempotency_keys")
    ]
    assert entry.minute == {0} and entry.second == {0} and entry.run_at_startup
