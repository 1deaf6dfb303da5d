"""`expense-wise preflight`: can this image, with this configuration, serve here?

Run by every deploy path before the rollout (and by hand at 3 a.m.). It validates the
settings, then reaches each dependency with the application's own code and permissions: the
database (and where its schema stands against this image's migrations), Redis (a write, as
the rate limiter and the queue write), the receipt storage (put, get and delete a probe
object), the backup target (a listing, as the worker's backup metrics do) and the mail server
(connect, STARTTLS, log in). Every check is bounded in time, and every problem is one line.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expense_wise.settings import Settings

CHECK_TIMEOUT_SECONDS = 15.0
PROBE_PREFIX = "preflight/"


@dataclass(frozen=True)
class Finding:
    check: str
    message: str
    ok: bool = True

    def line(self) -> str:
        return f"{'ok' if self.ok else 'problem'}: {self.check}: {self.message}"


class Problem(Exception):
    """A check found something that stops a deploy; the message says what."""


@dataclass(frozen=True)
class Expectations:
    # The migration head the deploy is about to apply; this image's must be the same.
    head: str | None = None
    # The deploy has already migrated: pending migrations are a problem, not a note.
    migrated: bool = False


async def run_checks(settings: Settings, expect: Expectations) -> list[Finding]:
    checks: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        ("database", lambda: _database(settings, expect)),
        ("redis", lambda: _redis(settings)),
        ("receipt storage", lambda: _receipt_storage(settings)),
        ("backups", lambda: _backups(settings)),
        ("email", lambda: _email(settings)),
    ]
    findings = [await _run(name, check) for name, check in checks]
    if expect.head is not None:
        findings.append(_image_head(expect.head))
    return findings


async def _run(name: str, check: Callable[[], Awaitable[str]]) -> Finding:
    started = time.monotonic()
    try:
        message = await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except Problem as problem:
        return Finding(name, str(problem), ok=False)
    except TimeoutError:
        return Finding(name, f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s", ok=False)
    except Exception as error:
        return Finding(name, _describe(error), ok=False)
    return Finding(name, f"{message} ({time.monotonic() - started:.2f} s)")


def _describe(error: BaseException) -> str:
    from expense_wise.logging import REDACTED, redact_value

    # SQLAlchemy wraps the driver's error and appends a link; the driver's says it all.
    error = getattr(error, "orig", None) or error
    text = " ".join(str(error).split()) or type(error).__name__
    redacted = str(redact_value("error", text))
    return f"{type(error).__name__}: {redacted}" if redacted != REDACTED else type(error).__name__


# --- Database and migrations ---------------------------------------------------------------


async def _database(settings: Settings, expect: Expectations) -> str:
    from expense_wise.db.migrate import current_revision, head_revision, pending_revisions

    url = settings.database.url
    if settings.database.is_sqlite and not _sqlite_file(url).exists():
        current = None  # the embedded default creates and migrates it at first start
    else:
        # Alembic and the driver's connect are synchronous: keep them off the event loop.
        current = await asyncio.to_thread(current_revision, url)
    head = head_revision()
    if current == head:
        return f"schema at this image's head {head}"
    pending = pending_revisions(current)
    if pending is None:
        raise Problem(
            f"the schema is at revision {current}, which this image does not know (its head "
            f"is {head}): the database is newer than this code; deploy an image with that "
            "migration, or restore"
        )
    message = (
        f"schema {'empty' if current is None else f'at {current}'}, {len(pending)} "
        f"migration(s) pending: {', '.join(pending)} (`expense-wise migrate` applies them)"
    )
    if expect.migrated:
        raise Problem(message)
    return message


def _sqlite_file(url: str) -> Path:
    return Path(url.split("///", 1)[-1])


def _image_head(expected: str) -> Finding:
    from expense_wise.db.migrate import head_revision

    head = head_revision()
    if head != expected:
        return Finding(
            "migration head",
            f"this image's migrations end at {head}, the deploy expects {expected}: "
            "the image and the deploy come from different commits",
            ok=False,
        )
    return Finding("migration head", f"{head}, as the deploy expects")


# --- Redis -----------------------------------------------------------------------------------


async def _redis(settings: Settings) -> str:
    if settings.redis.url is None:
        return "not configured (jobs run in the API process, rate limits in memory)"
    from redis.asyncio import Redis

    client: Any = Redis.from_url(settings.redis.url, socket_connect_timeout=5, socket_timeout=5)
    key = f"{settings.redis.key_prefix}preflight:{secrets.token_hex(4)}"
    try:
        # A write, as the queue and the rate limiter write: a read-only replica fails here.
        await client.set(key, b"1", ex=60)
        await client.delete(key)
        role = (await client.info("replication")).get("role", "unknown")
    finally:
        await client.aclose()
    return f"reachable and writable ({role})"


# --- Storage ---------------------------------------------------------------------------------


async def _receipt_storage(settings: Settings) -> str:
    from expense_wise.storage import create_storage

    storage = create_storage(settings.storage)
    key = f"{PROBE_PREFIX}{secrets.token_hex(8)}"
    data = b"expense-wise preflight probe\n"
    await storage.put(key, data, "text/plain")
    try:
        if await storage.get(key) != data:
            raise Problem(f"the probe object {key} read back different bytes")
    finally:
        await storage.delete(key)
    where = (
        f"s3://{settings.storage.s3_bucket}"
        if settings.storage.s3_bucket
        else str(settings.storage.receipts_dir)
    )
    return f"{where}: put, get and delete of a probe object"


async def _backups(settings: Settings) -> str:
    from expense_wise.backup.targets import resolve_target

    target = resolve_target(settings, None)
    names = await asyncio.to_thread(target.names)
    manifests = [name for name in names if name.endswith(".json")]
    return f"{target.description}: listed, {len(manifests)} backup(s)"


# --- Email -----------------------------------------------------------------------------------


async def _email(settings: Settings) -> str:
    email = settings.email
    if email.smtp_host is None:
        await asyncio.to_thread(email.maildir.mkdir, parents=True, exist_ok=True)
        return f"maildir {email.maildir} (no SMTP_HOST)"
    import aiosmtplib

    from expense_wise.domain.notifications.mailer import SMTPS_PORT

    implicit_tls = email.smtp_port == SMTPS_PORT
    client = aiosmtplib.SMTP(
        hostname=email.smtp_host,
        port=email.smtp_port,
        use_tls=implicit_tls,
        start_tls=False if implicit_tls else None,
        timeout=10,
    )
    await client.connect()
    try:
        encrypted = client.get_transport_info("sslcontext") is not None
        if email.smtp_user:
            try:
                await client.login(email.smtp_user, email.smtp_password or "")
            except aiosmtplib.SMTPAuthenticationError as error:
                raise Problem(
                    f"{email.smtp_host} refused SMTP_USER's login: {error.code} {error.message}"
                ) from error
    finally:
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()
    details = [
        "TLS" if encrypted else "no TLS",
        "login accepted" if email.smtp_user else "no login",
    ]
    return f"{email.smtp_host}:{email.smtp_port} answered ({', '.join(details)})"
