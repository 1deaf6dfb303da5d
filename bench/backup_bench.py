"""Benchmark of backup create/restore against the plain PostgreSQL tools (see backup.sh)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from expense_wise.backup.postgres import Database
from expense_wise.db.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
EXPENSES = int(os.environ.get("BENCH_EXPENSES", "1000000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
JOBS = int(os.environ.get("BENCH_JOBS", "2"))
TARGET_RATIO = 1.25
CLI = str(Path(sys.executable).parent / "expense-wise")

SEED = """
WITH owner AS (
    INSERT INTO users (id, email, password_hash, name, default_currency, monthly_summary,
                       created_at, updated_at)
    VALUES (gen_random_uuid(), 'bench@example.com', 'not-a-hash', 'Bench', 'EUR', true,
            now(), now())
    RETURNING id
), categories AS (
    INSERT INTO categories (id, user_id, name, name_key, color, created_at, updated_at)
    SELECT gen_random_uuid(), owner.id, 'Category ' || n, 'category ' || n, '#336699',
           now(), now()
    FROM owner, generate_series(1, 20) AS n
    RETURNING id
), category_list AS (
    SELECT array_agg(id) AS ids FROM categories
)
INSERT INTO expenses (id, user_id, amount, currency, occurred_on, merchant, merchant_key,
                      category_id, note, tags, payment_method, created_at, updated_at)
SELECT gen_random_uuid(), owner.id, 100 + (i::bigint * 7919) %% 5000000, 'EUR',
       date '2020-01-01' + (i %% 2000), 'Merchant ' || (i %% 1000), 'merchant ' || (i %% 1000),
       category_list.ids[1 + i %% 20],
       CASE WHEN i %% 3 = 0 THEN 'note for expense ' || i END,
       json_build_array('tag' || (i %% 10)), 'card',
       timestamptz '2020-01-01' + i * interval '1 minute', now()
FROM owner, category_list, generate_series(1, %(count)s) AS i
"""


def log(message: str) -> None:
    print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        command, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{command[0]} {command[1:3]} failed:\n{completed.stderr[-3000:]}")
    return seconds


def median_of(run: Callable[[], float]) -> tuple[float, list[float]]:
    runs = [run() for _ in range(REPEATS)]
    return statistics.median(runs), runs


def main() -> None:
    server = Database(SERVER)
    prefix = f"ew_backup_bench_{os.getpid()}"
    source = server.with_name(prefix)
    workdir = Path(tempfile.mkdtemp(prefix="expense-wise-bench-"))
    try:
        run(server, source, workdir)
    finally:
        with server.maintenance.connect(autocommit=True) as connection:
            names = connection.execute(
                "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s",
                (prefix, prefix + "\\_%"),
            ).fetchall()
            for (name,) in names:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        shutil.rmtree(workdir, ignore_errors=True)


def run(server: Database, source: Database, workdir: Path) -> None:
    with server.maintenance.connect(autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(source.name)))
    upgrade(source.sqlalchemy_url)
    log(f"seeding {EXPENSES:,} expenses into {source.name}")
    started = time.perf_counter()
    with psycopg.connect(source.conninfo, autocommit=True) as connection:
        connection.execute(SEED, {"count": EXPENSES})
        connection.execute("VACUUM (ANALYZE)")
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    assert size is not None
    log(f"seeded in {time.perf_counter() - started:.1f}s; database is {size[0] / 2**20:.0f} MiB")

    env = {"DATABASE_URL": source.sqlalchemy_url, "DATA_DIR": str(workdir / "var")}
    backups = workdir / "backups"
    plain = workdir / "plain.dump"
    counter = iter(range(1000))

    def plain_dump() -> float:
        return timed(["pg_dump", "-Fc", "-f", str(plain), f"--dbname={source.tool_url}"])

    def tool_dump() -> float:
        return timed([CLI, "backup", "create", "--to", str(backups)], env)

    def fresh_name() -> str:
        return f"{source.name}_r{next(counter)}"

    def plain_restore() -> float:
        target = source.with_name(fresh_name())
        started = time.perf_counter()
        timed(["createdb", f"--maintenance-db={server.tool_url}", target.name])
        timed(
            ["pg_restore", f"--jobs={JOBS}", "--no-owner", "--no-acl", "--exit-on-error",
             f"--dbname={target.tool_url}", str(plain)]
        )  # fmt: skip
        seconds = time.perf_counter() - started
        target.drop()
        return seconds

    def tool_restore() -> float:
        target = source.with_name(fresh_name())
        seconds = timed(
            [CLI, "backup", "restore", "--latest", "--from", str(backups), "--yes",
             f"--jobs={JOBS}", "--target-url", target.sqlalchemy_url],
            env,
        )  # fmt: skip
        target.drop()
        return seconds

    # Alternate the tools so neither always runs on a warmer cache.
    dumps: dict[str, list[float]] = {"pg_dump -Fc": [], "backup create": []}
    restores: dict[str, list[float]] = {"createdb + pg_restore": [], "backup restore": []}
    for number in range(REPEATS):
        log(f"dump round {number + 1}/{REPEATS}")
        dumps["pg_dump -Fc"].append(plain_dump())
        dumps["backup create"].append(tool_dump())
    shutil.rmtree(backups)
    tool_dump()  # one archive to restore from
    for number in range(REPEATS):
        log(f"restore round {number + 1}/{REPEATS}")
        restores["createdb + pg_restore"].append(plain_restore())
        restores["backup restore"].append(tool_restore())

    log("verify (restore drill into a scratch database)")
    verify_seconds = timed([CLI, "backup", "verify", "--latest", "--from", str(backups),
                            f"--jobs={JOBS}"], env)  # fmt: skip
    log("RTO: backup restore --latest --yes --force over the live database (safety backup on)")
    rto_seconds = timed([CLI, "backup", "restore", "--latest", "--from", str(backups), "--yes",
                         "--force", f"--jobs={JOBS}"], env)  # fmt: skip

    archive = max((p for p in backups.glob("*.dump")), key=lambda p: p.stat().st_mtime)
    medians = {name: statistics.median(runs) for name, runs in {**dumps, **restores}.items()}
    result = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(),
        "expenses": EXPENSES,
        "database_bytes": size[0],
        "archive_bytes": archive.stat().st_size,
        "plain_archive_bytes": plain.stat().st_size,
        "repeats": REPEATS,
        "pg_restore_jobs": JOBS,
        "runs_seconds": {**dumps, **restores},
        "median_seconds": medians,
        "create_ratio": medians["backup create"] / medians["pg_dump -Fc"],
        "restore_ratio": medians["backup restore"] / medians["createdb + pg_restore"],
        "verify_seconds": verify_seconds,
        "rto_seconds": rto_seconds,
        "cpus": os.cpu_count(),
        "server_version": server_version(server),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"backup-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")

    archive_mib = result["archive_bytes"] / 2**20
    print(f"\n{EXPENSES:,} expenses, database {size[0] / 2**20:.0f} MiB, "
          f"archive {archive_mib:.1f} MiB, median of {REPEATS} runs")  # fmt: skip
    print(f"  {'':<24} {'median':>8}  runs")
    for name, runs in {**dumps, **restores}.items():
        print(f"  {name:<24} {medians[name]:>7.2f}s  " + " ".join(f"{r:.2f}" for r in runs))
    for label, ratio in (("create", result["create_ratio"]), ("restore", result["restore_ratio"])):
        verdict = "ok" if ratio <= TARGET_RATIO else f"OVER the {TARGET_RATIO}x target"
        print(f"  {label} ratio: {ratio:.2f}x ({verdict})")
    print(f"  verify (restore drill): {verify_seconds:.2f}s")
    print(f"  RTO, backup restore --latest --yes --force with safety backup: {rto_seconds:.2f}s")
    print(f"  results: {path.relative_to(ROOT)}")


def server_version(server: Database) -> str:
    with server.maintenance.connect() as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


if __name__ == "__main__":
    main()
