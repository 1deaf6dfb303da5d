"""Scale benchmark (`make bench-scale`, issue 17): the heavy operations of one account at 10k,
100k and 1M expenses, each against the same work done directly in PostgreSQL in the same run.

What it does, on this machine only (loopback PostgreSQL and Redis):

1. creates a scratch database, migrates it with the served tree's `expense-wise migrate`, and
   starts the API as production runs it (APP_ENV=production, Redis, 2 uvicorn workers);
2. registers the measured user, seeds other users beside it (50 x 10,000 expenses), then for
   every size grows the user's history to that size (and receipts to a tenth of it), seeds two
   accounts of min(size, 100,000) expenses to delete, and runs VACUUM ANALYZE;
3. times every operation through the API and its limit (the same statements, or COPY, run
   directly with psycopg, with the app's session settings), alternating the two, the median of
   BENCH_REPEATS after one warm-up each; account deletion runs once per size;
4. prints one table per size: API time, limit time, their ratio, the API workers' peak RSS and
   its growth during the operation (VmHWM, reset before each operation), and the verdict
   against the targets of issue 17 (they apply at 1M); writes bench/results/scale-*.json.

Environment: BENCH_SIZES ("10000 100000 1000000"), BENCH_REPEATS (5), BENCH_OTHER_USERS (50),
BENCH_OTHER_EXPENSES (10000), BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432/postgres),
BENCH_REDIS_URL (redis://127.0.0.1:6379/14), BENCH_PORT (18741), BENCH_WORKERS (2),
BENCH_APP_DIR (the tree whose .venv serves the API; default this checkout), BENCH_KEEP_DB=1
(keep the database and the server log). Exit status 0 when every target holds at the sizes it
applies to, 1 otherwise, 2 on a set-up problem (the server log is then kept).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_seed import add_categories, add_expenses, add_receipts, add_user

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = Path(os.environ.get("BENCH_APP_DIR", ROOT)).resolve()
SIZES = [int(size) for size in os.environ.get("BENCH_SIZES", "10000 100000 1000000").split()]
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
OTHER_USERS = int(os.environ.get("BENCH_OTHER_USERS", "50"))
OTHER_EXPENSES = int(os.environ.get("BENCH_OTHER_EXPENSES", "10000"))
SERVER_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PORT = int(os.environ.get("BENCH_PORT", "18741"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
IMPORT_ROWS = 10_000
DELETED_ACCOUNT_MAX = 100_000
PASSWORD = "Correct-Horse-Battery-9417"
TARGET_SIZE = 1_000_000  # the targets apply from this size up
MiB = 2**20

# The app's session settings (db/engine.py), for the limit runs too.
SESSION_SETTINGS = "-c TimeZone=UTC -c jit=off"

EXPORT_LIMIT = """
COPY (
    SELECT e.occurred_on, e.amount, e.currency, e.merchant, c.name, e.tags, e.note,
           e.payment_method, e.id
    FROM expenses AS e LEFT JOIN categories AS c ON c.id = e.category_id
    WHERE e.user_id = {user} ORDER BY e.occurred_on, e.id
) TO STDOUT (FORMAT csv)
"""
TAG_REPORT = """
SELECT t.value, e.currency, sum(e.amount), count(*),
       sum(e.amount) FILTER (WHERE t.position IS NULL OR t.position = 1),
       count(*) FILTER (WHERE t.position IS NULL OR t.position = 1)
FROM expenses AS e
LEFT JOIN LATERAL json_array_elements_text(e.tags) WITH ORDINALITY AS t(value, position) ON true
WHERE e.user_id = %(user)s AND e.occurred_on BETWEEN %(from)s AND %(to)s
GROUP BY t.value, e.currency
"""
CATEGORY_REPORT = """
SELECT category_id, currency, sum(amount), count(*) FROM expenses
WHERE user_id = %(user)s AND occurred_on BETWEEN %(from)s AND %(to)s
GROUP BY category_id, currency
"""
CATEGORY_NAMES = "SELECT id, name FROM categories WHERE user_id = %(user)s"
MONTH_REPORT = """
SELECT to_char(occurred_on, 'YYYY-MM'), currency, sum(amount), count(*) FROM expenses
WHERE user_id = %(user)s AND occurred_on BETWEEN %(from)s AND %(to)s
GROUP BY 1, currency
"""
LIST_PAGE = """
SELECT id, amount, currency, occurred_on, merchant, category_id, note, tags, payment_method,
       receipt_id, recurring_id, possible_duplicate_of, created_at, updated_at
FROM expenses WHERE user_id = %(user)s {search}
ORDER BY occurred_on DESC, id DESC LIMIT 51
"""
SEARCH = "AND (lower(merchant) LIKE %(pattern)s OR lower(note) LIKE %(pattern)s)"
RECEIPT_SEARCH = """
SELECT * FROM receipts
WHERE user_id = %(user)s
  AND (lower(raw_text) LIKE %(pattern)s OR lower(merchant) LIKE %(pattern)s)
ORDER BY created_at DESC, id DESC LIMIT 51
"""
IMPORT_COLUMNS = (
    "id, user_id, amount, currency, occurred_on, merchant, merchant_key, category_id, note,"
    " tags, payment_method, import_key, created_at, updated_at"
)
WHOLE_RANGE = ("2000-01-01", "2099-12-31")
ONE_MONTH = ("2025-03-01", "2025-03-31")


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclass
class Row:
    operation: str
    api_ms: float
    limit_ms: float | None
    peak_mib: float
    growth_mib: float
    target: str
    ok: bool | None  # None: no target at this size
    runs: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.api_ms / self.limit_ms if self.limit_ms else None


# --- The API process ---------------------------------------------------------------------------


class Api:
    """`expense-wise serve` in its own process group, and a keep-alive HTTP connection to it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", PORT)) == 0:
                raise SystemExit(f"port {PORT} is already in use (BENCH_PORT)")
        self.log_file = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(APP_DIR / ".venv" / "bin" / "expense-wise"),
                "serve",
                "--workers",
                str(WORKERS),
                "--port",
                str(PORT),
            ],
            env=env,
            cwd=APP_DIR,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.request("GET", "/health")[0] == 200 and len(self.workers()) == WORKERS:
                    return
            except OSError:
                self.connection.close()
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the API did not start; see {log_path}")
            time.sleep(0.3)

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                return self.connection.getresponse()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closed the idle keep-alive connection: once more on a new one.
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        response = self._send(method, path, body, headers or {})
        return response.status, response.read()

    def stream(self, path: str, headers: dict[str, str]) -> tuple[int, int]:
        """GET a streamed body without keeping it: (status, bytes read)."""
        response = self._send("GET", path, None, headers)
        size = 0
        while chunk := response.read(1 << 16):
            size += len(chunk)
        return response.status, size

    def json(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        status, raw = self.request(
            method, path, json.dumps(body).encode() if body else None, headers
        )
        if status >= 300:
            raise SystemExit(f"{method} {path} answered {status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def workers(self) -> list[int]:
        """The uvicorn worker processes (children of the server but its resource tracker)."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids = [int(pid) for pid in children.read_text().split()]
            return [
                pid for pid in pids if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ]
        except OSError:
            return []

    def reset_peaks(self) -> float:
        """Reset the workers' peak RSS (VmHWM) to their current RSS; the largest RSS now."""
        for pid in self.workers():
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        return max(_status_mib(pid, "VmRSS") for pid in self.workers())

    def peak(self) -> float:
        return max(_status_mib(pid, "VmHWM") for pid in self.workers())

    def stop(self) -> None:
        self.connection.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log_file.close()


def _status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {key} for process {pid}")


# --- Accounts and data ---------------------------------------------------------------------------


@dataclass
class Account:
    id: uuid.UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register(api: Api, email: str) -> Account:
    body = {"email": email, "password": PASSWORD, "name": "Bench"}
    user = api.json("POST", "/api/v1/auth/register", body)
    tokens = api.json("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    return Account(uuid.UUID(user["id"]), tokens["access_token"])


def import_csv(number: int) -> bytes:
    """IMPORT_ROWS new rows (their content differs from every earlier import's)."""
    lines = ["date,amount,currency,merchant,category,tags,note,payment_method"]
    lines.extend(
        f"2025-{1 + n % 12:02d}-{1 + n % 28:02d},{1 + n % 500}.{n % 100:02d},EUR,"
        f"Imported Shop {n % 97},Dining,import;batch {number},note {number}-{n},card"
        for n in range(IMPORT_ROWS)
    )
    return ("\n".join(lines) + "\n").encode()


def multipart(content: bytes) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def copy_rows(user: uuid.UUID, number: int) -> list[tuple[Any, ...]]:
    """The rows the import of `import_csv(number)` writes, for the limit's COPY."""
    now = dt.datetime.now(dt.UTC)
    return [
        (
            uuid.uuid4(),
            user,
            (1 + n % 500) * 10000 + (n % 100) * 100,
            "EUR",
            dt.date(2025, 1 + n % 12, 1 + n % 28),
            f"Imported Shop {n % 97}",
            f"imported shop {n % 97}",
            None,
            f"note {number}-{n}",
            json.dumps(["import", f"batch {number}"]),
            "card",
            secrets.token_hex(32),
            now,
            now,
        )
        for n in range(IMPORT_ROWS)
    ]


# --- Measuring ---------------------------------------------------------------------------------


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


class Bench:
    def __init__(self, api: Api, conninfo: str, user: Account) -> None:
        self.api = api
        self.conninfo = conninfo
        self.user = user
        self.rows: list[Row] = []
        self.imports = 0

    def limit_connection(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo, autocommit=True, options=SESSION_SETTINGS)

    def measure(
        self,
        operation: str,
        api_call: Callable[[], object],
        limit_call: Callable[[psycopg.Connection[Any]], object] | None,
        target: str,
        check: Callable[[Row], bool] | None,
        size: int,
        repeats: int = REPEATS,
    ) -> Row:
        with self.limit_connection() as connection:
            api_call()  # warm-up
            if limit_call:
                limit_call(connection)
            before = self.api.reset_peaks()
            api_runs, limit_runs = [], []
            for _ in range(repeats):
                api_runs.append(timed(api_call))
                if limit_call:
                    limit_runs.append(timed(lambda: limit_call(connection)))
            peak = self.api.peak()
        row = Row(
            operation,
            statistics.median(api_runs),
            statistics.median(limit_runs) if limit_runs else None,
            peak,
            max(peak - before, 0.0),
            target,
            None,
            {"api_ms": api_runs, "limit_ms": limit_runs},
        )
        if check and size >= TARGET_SIZE:
            row.ok = check(row)
        log(
            f"{operation:<34} api {row.api_ms:9.1f} ms  limit "
            f"{row.limit_ms or 0:9.1f} ms  rss +{row.growth_mib:.0f} MiB"
        )
        self.rows.append(row)
        return row

    def get(self, path: str) -> Callable[[], object]:
        def call() -> None:
            status, body = self.api.request("GET", path, headers=self.user.headers)
            if status != 200:
                raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")

        return call

    def run(self, size: int) -> None:
        user = self.user.id
        ratio_at_most = _ratio_check
        for name, group_by, (start, end) in (
            ("report tag, whole range", "tag", WHOLE_RANGE),
            ("report tag, one month", "tag", ONE_MONTH),
            ("report category, whole range", "category", WHOLE_RANGE),
            ("report month, whole range", "month", WHOLE_RANGE),
        ):
            statements = {
                "tag": [TAG_REPORT],
                "category": [CATEGORY_REPORT, CATEGORY_NAMES],
                "month": [MONTH_REPORT],
            }[group_by]
            params = {"user": user, "from": start, "to": end}

            def report(
                connection: psycopg.Connection[Any],
                statements: list[str] = statements,
                params: dict[str, Any] = params,
            ) -> None:
                for statement in statements:
                    connection.execute(statement, params).fetchall()

            self.measure(
                name,
                self.get(f"/api/v1/reports/summary?group_by={group_by}&from={start}&to={end}"),
                report,
                "<= 1.5x SQL, RSS +50 MiB",
                ratio_at_most(1.5, 50),
                size,
            )

        def export_api() -> None:
            status, size_read = self.api.stream("/api/v1/expenses/export", self.user.headers)
            if status != 200 or size_read < size * 50:
                raise SystemExit(f"export answered {status} with {size_read} bytes")

        def export_limit(connection: psycopg.Connection[Any]) -> None:
            statement = sql.SQL(EXPORT_LIMIT).format(user=sql.Literal(user))
            with connection.cursor().copy(statement) as copy:
                for _ in copy:
                    pass

        self.measure(
            "CSV export, everything",
            export_api,
            export_limit,
            "<= 2.5x COPY, RSS +50 MiB",
            ratio_at_most(2.5, 50),
            size,
        )

        def search_limit(term: str, statement: str) -> Callable[[psycopg.Connection[Any]], None]:
            def run(connection: psycopg.Connection[Any]) -> None:
                params = {"user": user, "pattern": f"%{term}%"}
                connection.execute(statement, params, prepare=False).fetchall()

            return run

        list_page = LIST_PAGE.format(search="")
        self.measure(
            "list, first page", self.get("/api/v1/expenses?limit=50"), search_limit("", list_page),
            "(bench-api)", None, size,
        )  # fmt: skip
        for label, term in (("miss", "zzqx"), ("common", "cafe"), ("rare", "4242")):
            self.measure(
                f"search q= {label} ({term})",
                self.get(f"/api/v1/expenses?limit=50&q={term}"),
                search_limit(term, LIST_PAGE.format(search=SEARCH)),
                "<= 25 ms",
                _time_check(25),
                size,
            )
        for label, term in (("miss", "zzqx"), ("rare", "receipt 4242")):
            self.measure(
                f"receipts q= {label} ({term})",
                self.get(f"/api/v1/receipts?limit=50&q={urllib.parse.quote(term)}"),
                search_limit(term, RECEIPT_SEARCH),
                "<= 25 ms",
                _time_check(25),
                size,
            )

        with self.limit_connection() as connection:
            victims = [
                row[0]
                for row in connection.execute(
                    "SELECT id FROM expenses WHERE user_id = %s ORDER BY created_at LIMIT %s",
                    (user, 2 * (REPEATS + 1)),
                ).fetchall()
            ]

        def delete_api() -> None:
            expense_id = victims.pop()
            status, body = self.api.request(
                "DELETE", f"/api/v1/expenses/{expense_id}", headers=self.user.headers
            )
            if status != 204:
                raise SystemExit(f"delete answered {status}: {body[:200]!r}")

        def delete_limit(connection: psycopg.Connection[Any]) -> None:
            connection.execute("DELETE FROM expenses WHERE id = %s", (victims.pop(),))

        self.measure(
            "delete one expense", delete_api, delete_limit, "<= 10 ms", _time_check(10), size
        )

        def import_api() -> None:
            self.imports += 1
            body, content_type = multipart(import_csv(self.imports))
            headers = {**self.user.headers, "Content-Type": content_type}
            status, answer = self.api.request("POST", "/api/v1/expenses/import", body, headers)
            if status != 200 or json.loads(answer)["imported"] != IMPORT_ROWS:
                raise SystemExit(f"import answered {status}: {answer[:300]!r}")

        def import_limit(connection: psycopg.Connection[Any]) -> None:
            self.imports += 1
            rows = copy_rows(user, self.imports)
            with connection.transaction(force_rollback=True), connection.cursor() as cursor:
                statement = f"COPY expenses ({IMPORT_COLUMNS}) FROM STDIN"
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)

        self.measure(
            f"import {IMPORT_ROWS:,} rows",
            import_api,
            import_limit,
            "<= 3x COPY",
            ratio_at_most(3, None),
            size,
        )
        with self.limit_connection() as connection:  # back to the size being measured
            connection.execute(
                "DELETE FROM expenses WHERE user_id = %s AND import_key IS NOT NULL", (user,)
            )

    def delete_accounts(self, size: int, by_api: Account, by_sql: uuid.UUID) -> None:
        count = min(size, DELETED_ACCOUNT_MAX)
        before = self.api.reset_peaks()
        api_ms = timed(lambda: self.api.json("DELETE", "/api/v1/me", token=by_api.token))
        peak = self.api.peak()
        with self.limit_connection() as connection:
            # What the service does, in one transaction.
            def delete() -> None:
                with connection.transaction():
                    connection.execute("DELETE FROM expenses WHERE user_id = %s", (by_sql,))
                    connection.execute("DELETE FROM users WHERE id = %s", (by_sql,))

            limit_ms = timed(delete)
        row = Row(
            f"delete account ({count:,} expenses)",
            api_ms,
            limit_ms,
            peak,
            max(peak - before, 0.0),
            "<= 1.5x SQL",
            None,
        )
        if count >= DELETED_ACCOUNT_MAX:
            row.ok = _ratio_check(1.5, None)(row)
        log(f"{row.operation:<34} api {api_ms:9.1f} ms  limit {limit_ms:9.1f} ms")
        self.rows.append(row)


def _ratio_check(ratio: float, growth_mib: float | None) -> Callable[[Row], bool]:
    def check(row: Row) -> bool:
        within = row.ratio is not None and row.ratio <= ratio
        return within and (growth_mib is None or row.growth_mib <= growth_mib)

    return check


def _time_check(milliseconds: float) -> Callable[[Row], bool]:
    return lambda row: row.api_ms <= milliseconds


# --- Main --------------------------------------------------------------------------------------


def print_table(size: int, rows: list[Row], load: tuple[float, float]) -> None:
    print(
        f"\n{size:,} expenses for the user (+ {OTHER_USERS} x {OTHER_EXPENSES:,} of others);"
        f" medians of {REPEATS}; load average {load[0]:.1f} before, {load[1]:.1f} after"
    )
    header = (
        f"{'operation':<34} {'API ms':>9} {'limit ms':>9} {'ratio':>6} {'peak MiB':>9}"
        f" {'RSS +MiB':>8}  target (at 1M)"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        limit = f"{row.limit_ms:9.1f}" if row.limit_ms is not None else f"{'-':>9}"
        verdict = "" if row.ok is None else (" PASS" if row.ok else " FAIL")
        print(
            f"{row.operation:<34} {row.api_ms:9.1f} {limit} {ratio:>6} {row.peak_mib:9.0f}"
            f" {row.growth_mib:8.0f}  {row.target}{verdict}"
        )


def main() -> int:
    server = psycopg.conninfo.conninfo_to_dict(SERVER_URL)
    if server.get("host", "127.0.0.1") not in ("127.0.0.1", "localhost", "::1"):
        print("bench/scale_bench.py: refusing a non-loopback PostgreSQL", file=sys.stderr)
        return 2
    database = f"ew_scale_bench_{os.getpid()}"
    conninfo = psycopg.conninfo.make_conninfo(SERVER_URL, dbname=database)
    work = Path(tempfile.mkdtemp(prefix="ew-scale-bench-"))
    prefix = f"bench-scale:{os.getpid()}:"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("APP_", "DATABASE_"))},
        "APP_ENV": "production",
        "DATABASE_URL": "postgresql+psycopg://" + conninfo_url(conninfo),
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": prefix,
        "JWT_SECRET": secrets.token_urlsafe(36),
        "ACCESS_TOKEN_TTL": "12h",
        "RATE_LIMIT_MAX": "100000000",
        "AUTH_RATE_LIMIT": "1000",
        "LOG_LEVEL": "WARNING",
        "DATA_DIR": str(work / "data"),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
    }
    (work / "prometheus").mkdir()
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    api: Api | None = None
    keep_logs = os.environ.get("BENCH_KEEP_DB") == "1"
    results: dict[str, Any] = {"measured_at": dt.datetime.now(dt.UTC).isoformat(), "sizes": {}}
    ok = True
    try:
        migrate = subprocess.run(
            [str(APP_DIR / ".venv" / "bin" / "expense-wise"), "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrate.returncode != 0:
            raise SystemExit(f"migrate failed:\n{migrate.stdout}{migrate.stderr}")
        api = Api(env, work / "api.log")
        user = register(api, "scale@example.com")
        bench = Bench(api, conninfo, user)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            log(f"seeding {OTHER_USERS} other users x {OTHER_EXPENSES:,} expenses")
            for number in range(OTHER_USERS):
                other = add_user(connection, f"other{number}@example.com")
                add_expenses(connection, other, 0, OTHER_EXPENSES)
        grown = 0
        for size in SIZES:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                log(f"growing the user to {size:,} expenses and {size // 10:,} receipts")
                started = time.monotonic()
                add_expenses(connection, user.id, grown, size - grown)
                add_receipts(connection, user.id, grown // 10, (size - grown) // 10)
                grown = size
                by_api = register(api, f"deleted-{size}@example.com")
                by_sql = add_user(connection, f"deleted-sql-{size}@example.com")
                add_categories(connection, by_api.id)
                for account_id in (by_api.id, by_sql):
                    add_expenses(connection, account_id, 0, min(size, DELETED_ACCOUNT_MAX))
                connection.execute("VACUUM ANALYZE")
                log(f"seeded in {time.monotonic() - started:.0f} s")
            load_before = os.getloadavg()[0]
            first = len(bench.rows)
            bench.run(size)
            bench.delete_accounts(size, by_api, by_sql)
            rows = bench.rows[first:]
            print_table(size, rows, (load_before, os.getloadavg()[0]))
            ok = ok and all(row.ok is not False for row in rows)
            results["sizes"][size] = [{**row.__dict__, "ratio": row.ratio} for row in rows]
    except SystemExit as error:
        print(f"bench/scale_bench.py: {error}; server log in {work}", file=sys.stderr)
        keep_logs = True
        return 2
    finally:
        if api is not None:
            api.stop()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()
        if not keep_logs:
            shutil.rmtree(work, ignore_errors=True)
        if os.environ.get("BENCH_KEEP_DB") == "1":
            print(f"database kept: {database}; server log in {work}", file=sys.stderr)
        else:
            with psycopg.connect(SERVER_URL, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database)
                    )
                )
    results.update({"cpus": os.cpu_count(), "app_dir": str(APP_DIR), "passed": ok})
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"scale-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(
        "\nlimit: the same statements run directly with psycopg (the app's session settings:"
        " no JIT), COPY for export and import; ratio = API / limit. RSS: the API workers'"
        f" VmHWM, reset before each operation.\nresults: {path.relative_to(ROOT)};"
        f" overall: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


def conninfo_url(conninfo: str) -> str:
    """user@host:port/dbname of a libpq conninfo (loopback, no password)."""
    parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = parts.get("user", "postgres")
    return f"{user}@{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}/{parts['dbname']}"


if __name__ == "__main__":
    sys.exit(main())
