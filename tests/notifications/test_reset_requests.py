"""A password-reset request does the same work for every address: one read and one queued
job. Only the job, in the worker, finds out whether there is an account to mail, so the
answer's timing no longer tells who has one (scripts/reset_timing.py measures it)."""

from __future__ import annotations

import redis as redis_sync

from expense_wise.settings import load_settings
from tests.conftest import (
    SmtpServer,
    free_port,
    register,
    run_sql,
    run_worker_burst,
    running_app,
)


def queued_jobs(env: dict[str, str]) -> int:
    client = redis_sync.Redis.from_url(env["REDIS_URL"])
    try:
        return int(client.zcard(load_settings(env).redis.queue_name))
    finally:
        client.close()


def reset_rows(env: dict[str, str]) -> tuple[int, int]:
    [(tokens, mails)] = run_sql(
        env,
        "SELECT (SELECT count(*) FROM one_time_tokens WHERE purpose = 'password_reset'), "
        "(SELECT count(*) FROM outbox_emails WHERE kind = 'password_reset')",
    )
    return tokens, mails


async def test_known_and_unknown_addresses_get_the_same_work_and_answer(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    async with running_app(mail_env) as client:
        account = await register(client, "grace@example.com")
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(1)  # the verification mail

        answers = []
        for email in (account.email, "nobody@example.com"):
            before = queued_jobs(mail_env)
            response = await client.post("/api/v1/auth/password-reset", json={"email": email})
            assert response.status_code == 202
            answers.append(response.json())
            assert queued_jobs(mail_env) == before + 1  # one job, whoever asked
            # The request itself wrote nothing, not even for the existing account.
            assert reset_rows(mail_env) == (0, 0)
        assert answers[0] == answers[1]

        await run_worker_burst(mail_env)
        messages = await smtp_server.wait_for(2)
        resets = [m for m in messages if m["Subject"] == "Reset your password"]
        assert [m["To"] for m in resets] == ["grace@example.com"]
        assert reset_rows(mail_env) == (1, 1)


async def test_without_redis_the_request_records_the_mail_itself(
    base_env: dict[str, str],
) -> None:
    """The queue is down (nothing listens on that port): the reset is not lost, the outbox
    row is written in the request and the periodic flush sends it once the queue is back."""
    async with running_app(base_env) as client:
        account = await register(client)
    env = {**base_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    async with running_app(env) as client:
        response = await client.post("/api/v1/auth/password-reset", json={"email": account.email})
        assert response.status_code == 202, response.text
    assert reset_rows(base_env) == (1, 1)
