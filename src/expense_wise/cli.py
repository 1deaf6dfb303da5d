"""The `expense-wise` command: one entry point for every process type of the image."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import tempfile
import urllib.request
from typing import Any

import click

from expense_wise.backup.cli import backup
from expense_wise.cli_settings import settings_or_exit
from expense_wise.domain.receipts.cli import receipts
from expense_wise.settings import Settings, SettingsError, load_settings


def prepare_embedded_database(settings: Settings) -> None:
    """On the embedded SQLite, create the data directory and migrate, as `serve` does: the
    operator commands then work on a fresh checkout. A server database is left alone
    (production migrates in its own step)."""
    if not settings.database.is_sqlite:
        return
    from expense_wise.db.migrate import upgrade

    upgrade(settings.database.url)


def require_migrated(settings: Settings) -> None:
    """Stop with a sentence, not a traceback, when a server database cannot be reached or
    has not been migrated yet."""
    from sqlalchemy.exc import DBAPIError

    from expense_wise.db.migrate import current_revision

    try:
        revision = current_revision(settings.database.url)
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise click.ClickException(f"cannot reach the database: {reason}") from error
    if revision is None:
        raise click.ClickException(
            "the database has no tables yet: run `expense-wise migrate` first"
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="expense-wise")
def main() -> None:
    """Expense-Wise: expense-tracking REST API, background worker and operations tools.

    Configuration comes from environment variables (see README.md); with none set, the
    embedded default runs on a SQLite file under ./var with jobs in-process.
    """


@main.command()
@click.option("--host", help="Bind address (default: HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: PORT or 8000).")
@click.option("--workers", type=int, help="Server processes (default: WEB_CONCURRENCY or 1).")
@click.option(
    "--migrate/--no-migrate",
    default=None,
    help="Apply migrations before serving (default: only on the embedded SQLite).",
)
def serve(host: str | None, port: int | None, workers: int | None, migrate: bool | None) -> None:
    """Serve the HTTP API (uvicorn)."""
    import uvicorn

    from expense_wise.logging import configure_logging, get_logger
    from expense_wise.slow_clients import SlowClientGuard

    settings = settings_or_exit()
    configure_logging(settings.server.log_level, json_output=settings.app_env == "production")
    embedded = settings.embedded and settings.database.is_sqlite
    get_logger("expense_wise").info(
        "embedded default: no external servers needed" if embedded else "production setup",
        **settings.describe(),
        docs=f"{settings.server.public_base_url}/schema",
    )
    if migrate:
        from expense_wise.db.migrate import upgrade

        upgrade(settings.database.url)
    elif migrate is None:
        # The embedded default creates its database on first start; production migrates as
        # a separate one-shot step before each rollout.
        prepare_embedded_database(settings)
    worker_count = workers or settings.server.workers
    if worker_count > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Several server processes share their metrics through files (prometheus_client).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="expense-wise-metrics-")
    if settings.server.metrics_port is not None:
        from expense_wise.metrics import serve_metrics

        # Scraped by Prometheus on its own port, which the ingress does not route to.
        serve_metrics(settings.server.metrics_port, host or settings.server.host)
    # Uvicorn drains in-flight requests on SIGTERM/SIGINT and then re-raises the signal to
    # the handler that was installed before it; with this one the process exits 0.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda *_: None)
    uvicorn.run(
        "expense_wise.app:create_app",
        factory=True,
        host=host or settings.server.host,
        port=port or settings.server.port,
        workers=worker_count,
        # The client address (rate-limit key) comes from X-Forwarded-For only through
        # TRUSTED_PROXIES: the right-most hop that is not one of them.
        proxy_headers=bool(settings.server.trusted_proxies),
        forwarded_allow_ips=list(settings.server.trusted_proxies),
        timeout_graceful_shutdown=settings.server.shutdown_timeout,
        # Deadlines for request headers and bodies (slow clients); see slow_clients.py.
        http=SlowClientGuard,
        log_config=None,
        access_log=False,
        server_header=False,
    )


@main.command()
def worker() -> None:
    """Run the ARQ background worker (needs REDIS_URL)."""
    from expense_wise.error_tracking import init_error_tracking
    from expense_wise.jobs import JOB_REGISTRY
    from expense_wise.logging import configure_logging, get_logger
    from expense_wise.runtime.arq_runner import run_worker, worker_settings
    from expense_wise.runtime.scratch import claim_scratch_dir
    from expense_wise.runtime.worker_health import WorkerHealth, serve_health

    settings = settings_or_exit()
    if settings.redis.url is None:
        click.echo(
            "expense-wise worker: REDIS_URL is not set. Without Redis, `serve` runs the "
            "background jobs itself (embedded default).",
            err=True,
        )
        sys.exit(2)
    configure_logging(settings.server.log_level, json_output=settings.app_env == "production")
    init_error_tracking(settings, "worker")
    scratch, removed = claim_scratch_dir()
    get_logger(__name__).info("temporary files of this worker", directory=str(scratch))
    if removed:
        get_logger(__name__).warning(
            "removed temporary files of stopped workers", paths=[str(path) for path in removed]
        )
    health = WorkerHealth()
    if settings.worker.metrics_port:
        serve_health(settings.worker.metrics_port, health)
    run_worker(worker_settings(settings, JOB_REGISTRY), settings.redis.url, health)


@main.command()
def migrate() -> None:
    """Apply database migrations up to the newest (Alembic upgrade head)."""
    from expense_wise.db.migrate import (
        current_revision,
        ensure_database_directory,
        head_revision,
        upgrade,
    )

    settings = settings_or_exit()
    # On a fresh checkout the embedded SQLite file's directory does not exist yet.
    ensure_database_directory(settings.database.url)
    before = current_revision(settings.database.url)
    upgrade(settings.database.url)
    click.echo(f"database at revision {head_revision()} (was {before or 'empty'})")


@main.command()
@click.option(
    "--expect-head",
    metavar="REVISION",
    help="Also fail unless this image's newest migration is REVISION (the one the deploy "
    "is about to apply).",
)
@click.option(
    "--migrated",
    is_flag=True,
    help="The deploy has already migrated: pending migrations are a problem, not a note.",
)
def preflight(expect_head: str | None, migrated: bool) -> None:
    """Check the settings and every dependency before a deploy.

    Reaches the database (and compares its schema with this image's migrations: a schema
    newer than the code is refused), Redis, the receipt storage (put, get and delete a probe
    object), the backup target and the mail server, with this process's own credentials.
    Prints one line per check; exits 1 with one `problem:` line per problem.
    """
    from expense_wise.logging import configure_logging
    from expense_wise.preflight import Expectations, run_checks

    try:
        settings = load_settings()
    except SettingsError as error:
        for problem in error.problems:
            click.echo(f"problem: settings: {problem}", err=True)
        sys.exit(1)
    except Exception as error:  # e.g. Secrets Manager unreachable
        click.echo(f"problem: settings: could not load the configuration: {error}", err=True)
        sys.exit(1)
    configure_logging("WARNING", json_output=settings.app_env == "production")
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    described = ", ".join(f"{key} {value}" for key, value in settings.describe().items())
    click.echo(f"ok: settings: {described}")
    findings = asyncio.run(run_checks(settings, Expectations(expect_head, migrated)))
    for finding in findings:
        click.echo(finding.line(), err=not finding.ok)
    if not all(finding.ok for finding in findings):
        sys.exit(1)


@main.command("create-user")
@click.argument("email")
@click.option("--name", help="Display name.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting.",
)
def create_user(email: str, name: str | None, password_stdin: bool) -> None:
    """Create an account (for operators). Prompts for the password unless --password-stdin.

    EMAIL and the password are checked by the same rules as POST /api/v1/auth/register.
    """
    from expense_wise.domain.accounts.services import RegistrationError, validate_registration

    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        request = validate_registration(email, password, name)
    except RegistrationError as error:
        raise click.ClickException(str(error)) from error
    settings = settings_or_exit()
    prepare_embedded_database(settings)
    require_migrated(settings)

    async def run() -> tuple[str, str]:
        from litestar.exceptions import HTTPException

        from expense_wise.db.engine import create_engine, create_session_factory
        from expense_wise.domain.accounts.services import register_user

        engine = create_engine(settings.database)
        try:
            async with create_session_factory(engine)() as session:
                try:
                    user = await register_user(
                        session, request.email, request.password, request.name
                    )
                except HTTPException as error:
                    raise click.ClickException(str(error.detail)) from error
                await session.commit()
                return user.email, str(user.id)
        finally:
            await engine.dispose()

    stored_email, user_id = asyncio.run(run())
    click.echo(f"created user {stored_email} ({user_id})")


@main.command()
@click.option("--url", help="Default: http://127.0.0.1:$PORT/health")
@click.option("--timeout", default=3.0, show_default=True)
def healthcheck(url: str | None, timeout: float) -> None:
    """Exit 0 when the local API answers /health (for container HEALTHCHECKs)."""
    target = url or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health"
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:  # noqa: S310
            status: Any = response.status
    except Exception as error:
        click.echo(f"unhealthy: {error}", err=True)
        sys.exit(1)
    if status != 200:
        click.echo(f"unhealthy: HTTP {status}", err=True)
        sys.exit(1)
    click.echo("healthy")


main.add_command(receipts)
main.add_command(backup)


if __name__ == "__main__":
    main()
