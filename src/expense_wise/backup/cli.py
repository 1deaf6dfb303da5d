"""`expense-wise backup ...`: create, list, verify, restore and prune backups.

Exit codes: 0 success; 1 the operation failed or found a problem (a corrupt or stale backup,
a mismatch); 2 bad usage or configuration.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from expense_wise.backup import manifest as mf
from expense_wise.backup.postgres import BackupError
from expense_wise.backup.report import Reporter, human_bytes, human_seconds
from expense_wise.backup.targets import Target, resolve_target
from expense_wise.setting_values import parse_duration
from expense_wise.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
DIRECTORY = click.Path(file_okay=False, path_type=Path)


def _settings() -> Settings:
    from expense_wise.cli_settings import settings_or_exit
    from expense_wise.logging import configure_logging

    settings = settings_or_exit()
    # Structured lines wherever nobody watches a terminal (cron mail, container logs).
    configure_logging(settings.server.log_level, json_output=not sys.stderr.isatty())
    return settings


def _fail_on_backup_error(command: F) -> F:
    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError
        from psycopg import Error as DatabaseError

        try:
            return command(*args, **kwargs)
        except (BackupError, DatabaseError, BotoCoreError, ClientError, OSError) as error:
            click.echo(f"expense-wise backup: {error}".rstrip(), err=True)
            sys.exit(1)

    return run  # type: ignore[return-value]


def _jobs_option(command: F) -> F:
    return click.option(
        "--jobs",
        type=click.IntRange(1, 64),
        default=2,
        show_default=True,
        envvar="BACKUP_RESTORE_JOBS",
        help="Parallel pg_restore jobs (env BACKUP_RESTORE_JOBS).",
    )(command)


@click.group(name="backup")
def backup() -> None:
    """Backups of the database and receipts, verified restores and retention.

    Backups go to the S3 bucket BACKUP_S3_BUCKET (default: AWS_S3_BUCKET) under
    BACKUP_S3_PREFIX (default backups/), else to the directory BACKUP_DIR (default
    $DATA_DIR/backups); --to/--from DIR overrides both.
    """


@backup.command()
@click.option("--to", "directory", type=DIRECTORY, help="Write to this directory instead.")
@_fail_on_backup_error
def create(directory: Path | None) -> None:
    """Back up the database (pg_dump custom format) and the receipts, manifest last."""
    settings = _settings()
    target = resolve_target(settings, directory)
    reporter = Reporter("backup create")
    manifest = create_backup_with(settings, target, reporter)
    click.echo(
        f"backup {manifest.id}: {human_bytes(manifest.size)}, "
        f"{sum(manifest.tables.values())} rows in {len(manifest.tables)} tables, "
        f"revision {manifest.revision}, {human_seconds(manifest.seconds)} "
        f"-> {target.description}"
    )


def create_backup_with(settings: Settings, target: Target, reporter: Reporter) -> mf.Manifest:
    from expense_wise.backup.create import create_backup

    return create_backup(settings, target, reporter)


def _age(created_at: dt.datetime, now: dt.datetime) -> str:
    return human_seconds((now - created_at).total_seconds())


def _as_record(manifest: mf.Manifest, now: dt.datetime) -> dict[str, Any]:
    verification = manifest.verification
    return {
        "id": manifest.id,
        "kind": manifest.kind,
        "created_at": manifest.created_at.isoformat(),
        "age_seconds": round((now - manifest.created_at).total_seconds()),
        "database": manifest.database,
        "size": manifest.size,
        "revision": manifest.revision,
        "rows": sum(manifest.tables.values()),
        "verified": manifest.verified,
        "verified_at": verification.verified_at.isoformat() if verification else None,
        "verification_problems": verification.problems if verification else [],
    }


def _write_textfile(path: Path, manifests: list[mf.Manifest]) -> None:
    """Node-exporter textfile metrics, written whole and renamed into place."""
    from expense_wise.backup.metrics import textfile_lines

    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("\n".join(textfile_lines(manifests)) + "\n")
    os.replace(temporary, path)


@backup.command(name="list")
@click.option("--from", "directory", type=DIRECTORY, help="Read this directory instead.")
@click.option(
    "--check-age",
    help="Exit 1 unless the newest verified backup is younger than this (e.g. 26h).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.option(
    "--textfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write Prometheus textfile-collector metrics to this file.",
)
@_fail_on_backup_error
def list_backups(
    directory: Path | None, check_age: str | None, as_json: bool, textfile: Path | None
) -> None:
    """The backups, newest first, with age, size, revision and whether verified."""
    from expense_wise.backup.catalog import load_manifests

    limit = None
    if check_age is not None:
        try:
            limit = parse_duration(check_age)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--check-age") from error
    settings = _settings()
    target = resolve_target(settings, directory)
    manifests = load_manifests(target)
    now = dt.datetime.now(dt.UTC)
    if as_json:
        click.echo(json.dumps([_as_record(item, now) for item in manifests], indent=2))
    else:
        click.echo(f"{'ID':<24} {'KIND':<9} {'AGE':>9} {'SIZE':>10} {'REVISION':<9} VERIFIED")
        for item in manifests:
            verified = "-"
            if item.verification is not None:
                when = f"{item.verification.verified_at:%Y-%m-%d %H:%M}"
                verified = f"yes {when}" if item.verification.ok else f"FAILED {when}"
            click.echo(
                f"{item.id:<24} {item.kind:<9} {_age(item.created_at, now):>9} "
                f"{human_bytes(item.size):>10} {item.revision or '-':<9} {verified}"
            )
    if textfile is not None:
        _write_textfile(textfile, manifests)
    if limit is not None:
        newest = next((item for item in manifests if item.verified), None)
        if newest is None:
            click.echo(f"no verified backup in {target.description}", err=True)
            sys.exit(1)
        age = (now - newest.created_at).total_seconds()
        if age > limit:
            click.echo(
                f"newest verified backup {newest.id} is {human_seconds(age)} old "
                f"(limit {check_age})",
                err=True,
            )
            sys.exit(1)


@backup.command()
@click.argument("backup_id", required=False)
@click.option(
    "--latest",
    is_flag=True,
    help="The newest backup (safety backups only by ID); the ID `latest` means the same.",
)
@click.option("--from", "directory", type=DIRECTORY, help="Read this directory instead.")
@_jobs_option
@_fail_on_backup_error
def verify(backup_id: str | None, latest: bool, directory: Path | None, jobs: int) -> None:
    """Restore a backup into a scratch database and check it against its manifest."""
    from expense_wise.backup.catalog import find_backup
    from expense_wise.backup.verify import verify_backup

    settings = _settings()
    target = resolve_target(settings, directory)
    manifest = find_backup(target, backup_id, latest)
    reporter = Reporter("backup verify")
    reporter.note(f"verifying backup {manifest.id} from {target.description}")
    verification = verify_backup(settings, target, manifest, reporter, jobs)
    if not verification.ok:
        for problem in verification.problems:
            click.echo(f"  {problem}", err=True)
        click.echo(f"backup {manifest.id}: verification FAILED", err=True)
        sys.exit(1)
    click.echo(
        f"backup {manifest.id}: verified ({sum(manifest.tables.values())} rows in "
        f"{len(manifest.tables)} tables, {human_seconds(verification.seconds)})"
    )


@backup.command()
@click.argument("backup_id", required=False)
@click.option(
    "--latest",
    is_flag=True,
    help="The newest backup (safety backups only by ID); the ID `latest` means the same.",
)
@click.option("--from", "directory", type=DIRECTORY, help="Read this directory instead.")
@click.option("--target-url", help="Restore into this database (default: DATABASE_URL).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Replace a --target-url database that holds data.")
@click.option(
    "--no-safety-backup",
    is_flag=True,
    help="Skip the backup of the current database taken before replacing it.",
)
@_jobs_option
@_fail_on_backup_error
def restore(
    backup_id: str | None,
    latest: bool,
    directory: Path | None,
    target_url: str | None,
    yes: bool,
    force: bool,
    no_safety_backup: bool,
    jobs: int,
) -> None:
    """Restore a backup into a new database, migrate it, then swap it in.

    The replaced database is kept on the server as <name>_pre_restore_<timestamp>.
    """
    from expense_wise.backup.catalog import find_backup
    from expense_wise.backup.postgres import Database
    from expense_wise.backup.restore import restore_backup
    from expense_wise.setting_values import parse_database_url

    settings = _settings()
    target = resolve_target(settings, directory)
    manifest = find_backup(target, backup_id, latest)
    try:
        url = parse_database_url(target_url) if target_url else settings.database.url
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--target-url") from error
    database = Database(url)
    if not yes:
        if not sys.stdin.isatty():
            click.echo("expense-wise backup restore: not a terminal; pass --yes", err=True)
            sys.exit(2)
        click.confirm(
            f"Restore backup {manifest.id} (taken {manifest.created_at:%Y-%m-%d %H:%M} UTC) "
            f"into database {database.name}, replacing what it holds now?",
            abort=True,
        )
    reporter = Reporter("backup restore")
    reporter.note(f"restoring backup {manifest.id} into database {database.name}")
    result = restore_backup(
        settings,
        target,
        manifest,
        reporter,
        target_url=url,
        force=force,
        safety_backup=not no_safety_backup,
        jobs=jobs,
    )
    click.echo(f"restored backup {result.backup_id} into database {result.database}")
    click.echo(f"  {'TABLE':<36} {'ROWS':>12}")
    for table, rows in sorted(result.tables.items()):
        click.echo(f"  {table:<36} {rows:>12}")
    click.echo(
        "  steps: " + ", ".join(f"{k} {human_seconds(v)}" for k, v in result.timings.items())
    )
    if result.migrated_from:
        click.echo(f"  migrated from revision {result.migrated_from} to {result.revision}")
    if result.receipts:
        click.echo("  receipts: " + ", ".join(f"{k} {v}" for k, v in result.receipts.items()))
    if result.safety_backup:
        click.echo(f"  safety backup of the replaced data: {result.safety_backup}")
    if result.previous_database:
        click.echo(f"  previous database kept as {result.previous_database} (drop it when done)")
    if result.previous_receipts_dir:
        click.echo(f"  previous receipts kept in {result.previous_receipts_dir}")
    click.echo(f"  total {human_seconds(result.seconds)}")


@backup.command()
@click.option(
    "--keep-daily",
    type=click.IntRange(0),
    default=7,
    show_default=True,
    envvar="BACKUP_KEEP_DAILY",
    help="Days (env BACKUP_KEEP_DAILY).",
)
@click.option(
    "--keep-weekly",
    type=click.IntRange(0),
    default=4,
    show_default=True,
    envvar="BACKUP_KEEP_WEEKLY",
    help="ISO weeks (env BACKUP_KEEP_WEEKLY).",
)
@click.option(
    "--keep-monthly",
    type=click.IntRange(0),
    default=12,
    show_default=True,
    envvar="BACKUP_KEEP_MONTHLY",
    help="Months (env BACKUP_KEEP_MONTHLY).",
)
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("--from", "directory", type=DIRECTORY, help="Prune this directory instead.")
@_fail_on_backup_error
def prune(
    keep_daily: int, keep_weekly: int, keep_monthly: int, dry_run: bool, directory: Path | None
) -> None:
    """Delete the backups outside the retention policy (never the newest verified one)."""
    from expense_wise.backup import prune as retention
    from expense_wise.backup.catalog import load_manifests

    settings = _settings()
    target = resolve_target(settings, directory)
    manifests = load_manifests(target)
    decisions = retention.plan(
        manifests, retention.Policy(daily=keep_daily, weekly=keep_weekly, monthly=keep_monthly)
    )
    leftovers = retention.orphans(target, manifests, dt.datetime.now(dt.UTC))
    for decision in decisions:
        verdict = "keep  " if decision.keep else "delete"
        reasons = ", ".join(decision.reasons)
        click.echo(f"{verdict} {decision.manifest.id} {reasons}".rstrip())
    for name in leftovers:
        click.echo(f"delete {name} (left by an unfinished backup)")
    doomed = sum(1 for decision in decisions if not decision.keep)
    if dry_run:
        click.echo(f"dry run: {doomed} backups would be deleted, {len(decisions) - doomed} kept")
        return
    retention.apply(target, decisions, leftovers)
    click.echo(f"deleted {doomed} backups, kept {len(decisions) - doomed}")
