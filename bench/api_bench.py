"""Load benchmark of the Expense-Wise API against the reference app (driven by bench/api.sh).

`bash bench/api.sh` starts PostgreSQL scratch databases, the API (production settings, 2
workers) and the reference app of ../shared/bench, then runs this script, which

1. registers one user, logs in, seeds 100,000 expenses for that user with one SQL statement,
2. builds the cursor of a deep page (page BENCH_DEEP_PAGE of 50 rows) and checks both URLs,
3. runs ../shared/bench/load.sh (closed-loop wrk) on each target, one at a time, same duration:
   reference /page, GET /api/v1/expenses?limit=50 (first and deep page) at every concurrency,
   then POST /api/v1/expenses (last, because it adds rows),
4. prints one table with absolute figures, ratios against the reference /page at the same
   concurrency, and PASS/FAIL against the targets of issue 2.

Exit status: 0 when every target passes, 1 when one fails, 2 on a set-up problem.
It only talks to loopback addresses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from typing import Any

import psycopg

LIST_RPS_RATIO_MIN = 0.6  # list throughput >= 0.6 x reference /page
LIST_P99_RATIO_MAX = 2.0  # list p99 <= 2 x reference /page p99
CREATE_RPS_MIN = 400.0  # POST /api/v1/expenses at concurrency 16
CREATE_RPS_CONCURRENCY = 16
PAGE = 50
EXPENSES = 100_000
LOOPBACK_PREFIXES = ("http://127.", "http://localhost", "http://[::1]")

# A heavy user's history: 100,000 expenses over ~3 years, 40 merchants (so "Cafe", the
# merchant of the POST body, has 2,500 earlier rows, mostly in one category), 6 in 7 with a
# category, some with notes and tags.
SEED_SQL = """
WITH cats AS (
    SELECT array_agg(id ORDER BY name) AS ids FROM categories WHERE user_id = %(uid)s
), merchants AS (
    SELECT ARRAY[
        'Cafe', 'Supermarket', 'Bakery', 'Pharmacy', 'Bookshop', 'Cinema', 'Train',
        'Bus', 'Taxi', 'Fuel Station', 'Restaurant', 'Pizzeria', 'Sushi Bar', 'Gym',
        'Electricity', 'Water', 'Internet', 'Phone', 'Rent', 'Insurance', 'Hardware Store',
        'Florist', 'Butcher', 'Market', 'Pub', 'Wine Shop', 'Hairdresser', 'Dentist',
        'Doctor', 'Parking', 'Airline', 'Hotel', 'Museum', 'Theatre', 'Concert Hall',
        'Clothing', 'Shoes', 'Electronics', 'Toy Shop', 'Pet Shop'
    ]::text[] AS names
)
INSERT INTO expenses (
    id, user_id, amount, currency, occurred_on, merchant, merchant_key, category_id, note,
    tags, payment_method, created_at, updated_at
)
SELECT
    gen_random_uuid(),
    %(uid)s,
    (100 + (g::bigint * 7919) %% 30000) * 100,                -- 1.00 .. 300.99 EUR, in 1/10,000
    'EUR',
    current_date - ((g::bigint * 104729) %% 1096)::int,    -- spread over ~3 years
    merchants.names[1 + g %% 40],
    lower(merchants.names[1 + g %% 40]),            -- = services.merchant_key() of the names
    CASE WHEN g %% 7 = 0 THEN NULL ELSE cats.ids[1 + g %% cardinality(cats.ids)] END,
    CASE WHEN g %% 5 = 0 THEN 'seeded expense ' || g END,
    (CASE g %% 4 WHEN 0 THEN '["work"]' WHEN 1 THEN '["family", "weekly"]' ELSE '[]' END)::json,
    (ARRAY['card', 'cash', 'transfer'])[1 + g %% 3],
    now() - (g || ' minutes')::interval,
    now() - (g || ' minutes')::interval
FROM generate_series(1, %(n)s) AS g, cats, merchants
"""

DEEP_ROW_SQL = """
SELECT occurred_on, id FROM expenses WHERE user_id = %(uid)s
ORDER BY occurred_on DESC, id DESC OFFSET %(offset)s LIMIT 1
"""


@dataclass
class Result:
    name: str
    concurrency: int
    rps: float
    p50: float
    p99: float
    errors: int
    requests: int
    server_cpu_ms: float  # CPU time of the server's processes per request (user + system)
    pg_cpu_ms: float  # CPU time of its PostgreSQL backends per request
    runs: list[dict[str, float]] = field(default_factory=list)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU seconds of these processes (those that still exist)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / CLOCK_TICKS


def group_pids(pgid: int) -> list[int]:
    """Every process of one process group (a server started with setsid and its workers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: process group
            pids.append(int(entry))
    return pids


class CpuMeter:
    """CPU time spent by a server (its process group) and its PostgreSQL backends during a run.

    On a shared 2-core machine, throughput moves with whatever else runs; CPU time per request
    barely does, so it is the figure to compare two versions of the code with."""

    def __init__(self, pgid: int | None, dsn: str | None) -> None:
        self.pgid, self.dsn = pgid, dsn

    def backends(self) -> list[int]:
        if not self.dsn:
            return []
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                ).fetchall()
        except psycopg.Error:
            return []
        return [row[0] for row in rows]

    def snapshot(self) -> tuple[float, dict[int, float]]:
        servers = group_pids(self.pgid) if self.pgid else []
        return cpu_seconds(servers), {pid: cpu_seconds([pid]) for pid in self.backends()}

    def since(self, before: tuple[float, dict[int, float]]) -> tuple[float, float]:
        server_after, backends_after = self.snapshot()
        # Backends opened during the run count from zero; one that closed during the run takes
        # its CPU with it (the app's pool is fixed, so that does not happen in a normal run).
        pg = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in backends_after.items())
        return server_after - before[0], pg


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def http(
    method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 30
) -> tuple[int, Any]:
    if not url.startswith(LOOPBACK_PREFIXES):
        raise SystemExit(f"refusing non-loopback target: {url}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_ready(url: str, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status, _ = http("GET", url, timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{what} did not answer 200 on {url} within {seconds:.0f}s")


def encode_cursor(occurred_on_iso: str, row_id: str) -> str:
    """Same format as expense_wise.api.encode_cursor: base64url(JSON [key, id]), unpadded."""
    raw = json.dumps([occurred_on_iso, row_id], separators=(",", ":")).encode()
    return urlsafe_b64encode(raw).decode().rstrip("=")


def prepare(args: argparse.Namespace) -> dict[str, str]:
    """Create the user, seed the data, and return the URLs and the token for the load runs."""
    api = args.app.rstrip("/")
    wait_ready(f"{api}/health", "expense-wise")
    wait_ready(f"{args.ref.rstrip('/')}/ping", "reference app")
    email, password = "bench@example.com", "Correct-Horse-Battery-9417"
    status, body = http(
        "POST",
        f"{api}/api/v1/auth/register",
        {"email": email, "password": password, "name": "Bench"},
    )
    if status != 201:
        raise SystemExit(f"register answered {status}: {body}")
    status, body = http("POST", f"{api}/api/v1/auth/login", {"email": email, "password": password})
    if status != 200 or "access_token" not in body:
        raise SystemExit(f"login answered {status}: {body}")
    token = body["access_token"]
    status, me = http("GET", f"{api}/api/v1/me", token=token)
    if status != 200:
        raise SystemExit(f"/api/v1/me answered {status}: {me}")
    uid = me["id"]

    log(f"seeding {EXPENSES:,} expenses for user {uid}")
    started = time.monotonic()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute(SEED_SQL, {"uid": uid, "n": EXPENSES})
        conn.execute("VACUUM ANALYZE")
        occurred_on, row_id = conn.execute(
            DEEP_ROW_SQL, {"uid": uid, "offset": args.deep_page * PAGE - 1}
        ).fetchone()  # type: ignore[misc]
    log(f"seeded in {time.monotonic() - started:.1f}s")

    first_url = f"{api}/api/v1/expenses?limit={PAGE}"
    deep_url = f"{first_url}&cursor={encode_cursor(occurred_on.isoformat(), str(row_id))}"
    for label, url in (("first page", first_url), ("deep page", deep_url)):
        status, page = http("GET", url, token=token)
        if status != 200 or len(page.get("items", [])) != PAGE or not page.get("next_cursor"):
            raise SystemExit(f"{label} check failed ({status}): {str(page)[:300]}")
    # The cursor really is the one page deep_page's link would carry.
    status, page = http("GET", deep_url, token=token)
    log(f"deep page {args.deep_page + 1} starts at {page['items'][0]['occurred_on']}")
    return {"token": token, "first_url": first_url, "deep_url": deep_url, "uid": uid}


def load(
    args: argparse.Namespace,
    url: str,
    concurrency: int,
    duration: int,
    method: str = "GET",
    body: str = "",
    token: str | None = None,
    meter: CpuMeter | None = None,
) -> dict[str, float]:
    before = meter.snapshot() if meter else None
    env = dict(os.environ)
    env["LOAD_HEADERS"] = f"Authorization: Bearer {token}" if token else ""
    command = ["bash", args.load_sh, url, method, body, str(concurrency), str(duration)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"load.sh failed ({done.returncode}): {done.stderr.strip()}")
    values: dict[str, float] = {}
    for part in done.stdout.split():
        key, _, value = part.partition("=")
        values[key] = float(value)
    if meter and before:
        server_cpu, pg_cpu = meter.since(before)
        requests = max(values.get("requests", 0), 1)
        values["server_cpu_ms"] = 1000 * server_cpu / requests
        values["pg_cpu_ms"] = 1000 * pg_cpu / requests
    return values


def measure(
    args: argparse.Namespace,
    name: str,
    url: str,
    concurrency: int,
    method: str = "GET",
    body: str = "",
    token: str | None = None,
    meter: CpuMeter | None = None,
) -> Result:
    if args.warmup > 0:
        load(args, url, concurrency, args.warmup, method, body, token)
    runs = []
    for _ in range(args.rounds):
        runs.append(load(args, url, concurrency, args.duration, method, body, token, meter))
        last = runs[-1]
        log(
            f"{name:<22} c={concurrency:<3} rps={last['rps']:.1f} p50={last['p50_ms']:.1f}ms "
            f"p99={last['p99_ms']:.1f}ms errors={int(last['errors'])} "
            f"cpu/req server={last.get('server_cpu_ms', 0):.2f}ms "
            f"pg={last.get('pg_cpu_ms', 0):.2f}ms"
        )
    return Result(
        name=name,
        concurrency=concurrency,
        rps=statistics.median(r["rps"] for r in runs),
        p50=statistics.median(r["p50_ms"] for r in runs),
        p99=statistics.median(r["p99_ms"] for r in runs),
        errors=int(sum(r["errors"] for r in runs)),
        requests=int(sum(r["requests"] for r in runs)),
        server_cpu_ms=statistics.median(r.get("server_cpu_ms", 0.0) for r in runs),
        pg_cpu_ms=statistics.median(r.get("pg_cpu_ms", 0.0) for r in runs),
        runs=runs,
    )


def verdict(result: Result, reference: Result | None) -> tuple[str, str, str]:
    """(rps ratio, p99 ratio, PASS/FAIL with the reasons) for one row of the table."""
    rps_ratio = p99_ratio = None
    if reference is not None and reference is not result:
        rps_ratio = result.rps / reference.rps if reference.rps else None
        p99_ratio = result.p99 / reference.p99 if reference.p99 else None
    failures = []
    if result.errors:
        failures.append(f"{result.errors} errors")
    checks = []
    if result.name.startswith("GET list"):
        checks.append(f"rps>={LIST_RPS_RATIO_MIN}x ref, p99<={LIST_P99_RATIO_MAX}x ref")
        if rps_ratio is None or rps_ratio < LIST_RPS_RATIO_MIN:
            failures.append(f"rps {rps_ratio or 0:.2f}x < {LIST_RPS_RATIO_MIN}x")
        if p99_ratio is None or p99_ratio > LIST_P99_RATIO_MAX:
            failures.append(f"p99 {p99_ratio or 0:.2f}x > {LIST_P99_RATIO_MAX}x")
    elif result.name.startswith("POST") and result.concurrency == CREATE_RPS_CONCURRENCY:
        checks.append(f"rps>={CREATE_RPS_MIN:.0f}")
        if result.rps < CREATE_RPS_MIN:
            failures.append(f"rps {result.rps:.0f} < {CREATE_RPS_MIN:.0f}")
    checks.append("no errors")
    outcome = ("FAIL: " + "; ".join(failures)) if failures else "PASS (" + ", ".join(checks) + ")"
    fmt = "{:.2f}x".format
    return (
        fmt(rps_ratio) if rps_ratio is not None else "-",
        fmt(p99_ratio) if p99_ratio is not None else "-",
        outcome,
    )


def print_table(results: list[Result], references: dict[int, Result]) -> bool:
    header = (
        f"{'endpoint':<28} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'rps/ref':>8} {'p99/ref':>8} {'cpu ms':>7} {'pg ms':>6}  verdict"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for result in results:
        rps_ratio, p99_ratio, outcome = verdict(result, references.get(result.concurrency))
        ok = ok and not outcome.startswith("FAIL")
        print(
            f"{result.name:<28} {result.concurrency:>4} {result.rps:>8.1f} {result.p50:>8.2f} "
            f"{result.p99:>8.2f} {result.errors:>6} {rps_ratio:>8} {p99_ratio:>8} "
            f"{result.server_cpu_ms:>7.2f} {result.pg_cpu_ms:>6.2f}  {outcome}"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, help="Expense-Wise base URL (loopback)")
    parser.add_argument("--ref", required=True, help="reference app base URL (loopback)")
    parser.add_argument("--dsn", required=True, help="libpq URL of the API's scratch database")
    parser.add_argument("--load-sh", required=True, help="path of ../shared/bench/load.sh")
    parser.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", 15)))
    parser.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_WARMUP", 3)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 1)))
    parser.add_argument(
        "--concurrency",
        default=os.environ.get("BENCH_CONCURRENCY", "16 64"),
        help="space-separated list (default: 16 64)",
    )
    parser.add_argument(
        "--deep-page", type=int, default=int(os.environ.get("BENCH_DEEP_PAGE", 1000))
    )
    parser.add_argument("--app-pgid", type=int, help="process group of the API server")
    parser.add_argument("--ref-pgid", type=int, help="process group of the reference app")
    parser.add_argument("--ref-dsn", help="libpq URL of the reference app's database")
    parser.add_argument(
        "--only", default=os.environ.get("BENCH_ONLY", ""), help="e.g. 'list' or 'create'"
    )
    args = parser.parse_args()
    for url in (args.app, args.ref):
        if not url.startswith(LOOPBACK_PREFIXES):
            print(f"refusing non-loopback target: {url}", file=sys.stderr)
            return 2
    concurrencies = [int(c) for c in args.concurrency.split()]

    try:
        ctx = prepare(args)
    except (SystemExit, OSError, psycopg.Error) as error:
        print(f"[bench] set-up failed: {error}", file=sys.stderr)
        return 2
    token = ctx["token"]
    ref_page = f"{args.ref.rstrip('/')}/page"
    create_url = f"{args.app.rstrip('/')}/api/v1/expenses"
    create_body = json.dumps(
        {"amount": "12.50", "currency": "EUR", "occurred_on": "2024-05-01", "merchant": "Cafe"}
    )
    app_meter = CpuMeter(args.app_pgid, args.dsn)
    ref_meter = CpuMeter(args.ref_pgid, args.ref_dsn)
    results: list[Result] = []
    references: dict[int, Result] = {}
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    try:
        # Reads first, each next to the reference run it is compared with; writes last.
        if args.only in ("", "list"):
            for conc in concurrencies:
                references[conc] = measure(
                    args, "reference GET /page", ref_page, conc, meter=ref_meter
                )
                results.append(references[conc])
                results.append(
                    measure(
                        args,
                        "GET list first page",
                        ctx["first_url"],
                        conc,
                        token=token,
                        meter=app_meter,
                    )
                )
                results.append(
                    measure(
                        args,
                        f"GET list page {args.deep_page + 1}",
                        ctx["deep_url"],
                        conc,
                        token=token,
                        meter=app_meter,
                    )
                )
        if args.only in ("", "create"):
            for conc in concurrencies:
                results.append(
                    measure(
                        args,
                        "POST create",
                        create_url,
                        conc,
                        "POST",
                        create_body,
                        token=token,
                        meter=app_meter,
                    )
                )
    except SystemExit as error:
        print(f"[bench] load run failed: {error}", file=sys.stderr)
        return 2

    print()
    print(
        f"Expense-Wise API vs reference app: {args.duration}s per run (warm-up {args.warmup}s), "
        f"{args.rounds} round(s), medians; {os.cpu_count()} CPUs; "
        f"{EXPENSES:,} expenses for the user; load {time.monotonic() - started:.0f}s"
    )
    busy = "  (machine busy with other work: compare ratios)" if load_before > 1 else ""
    print(f"1-minute load average before the runs: {load_before:.1f}{busy}")
    ok = print_table(results, references)
    print()
    print(
        "ratios: against reference GET /page at the same concurrency; cpu ms / pg ms: CPU time"
        " per request of the server processes / of their PostgreSQL backends (user+system)"
    )
    print(f"overall: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
