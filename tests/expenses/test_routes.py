from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io

import pytest

from expense_wise.domain.expenses.deps import BOUND_MESSAGE
from expense_wise.fields import AMOUNT_MESSAGE
from tests.conftest import expense_body, register


async def create(client, account, **overrides):
    response = await client.post(
        "/api/v1/expenses", json=expense_body(**overrides), headers=account.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_the_full_expense(client, alice):
    body = await create(
        client,
        alice,
        amount="12.5",
        note="team lunch",
        tags=["work", "lunch"],
        payment_method="card",
    )
    assert body["amount"] == "12.50"
    assert body["currency"] == "EUR"
    assert body["tags"] == ["work", "lunch"]
    assert body["receipt_id"] is None
    fetched = await client.get(f"/api/v1/expenses/{body['id']}", headers=alice.headers)
    assert fetched.json() == body


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-3"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "1e12"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": "1.5", "currency": "JPY"}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"occurred_on": "2024-02-30"}, "occurred_on"),
        ({"merchant": ""}, "merchant"),
        ({"tags": ["a;b"]}, "tags"),
        ({"category_id": "not-a-uuid"}, "category_id"),
        ({"amount": 12.5}, "amount"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_invalid_expenses_are_422_naming_the_field(client, alice, overrides, field):
    response = await client.post(
        "/api/v1/expenses", json=expense_body(**overrides), headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_amounts_are_exact_in_every_currency(client, alice):
    assert (await create(client, alice, amount="1200", currency="JPY"))["amount"] == "1200"
    assert (await create(client, alice, amount="1.234", currency="KWD"))["amount"] == "1.234"
    assert (await create(client, alice, amount="0.1"))["amount"] == "0.10"
    total = await client.get(
        "/api/v1/reports/summary?group_by=month&currency=EUR", headers=alice.headers
    )
    assert total.json()["totals"] == [{"currency": "EUR", "total": "0.10", "count": 1}]


async def test_patch_changes_only_sent_fields(client, alice):
    body = await create(client, alice, note="keep me")
    response = await client.patch(
        f"/api/v1/expenses/{body['id']}", json={"amount": "20"}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["amount"] == "20.00"
    assert response.json()["note"] == "keep me"
    cleared = await client.patch(
        f"/api/v1/expenses/{body['id']}", json={"note": None}, headers=alice.headers
    )
    assert cleared.json()["note"] is None
    to_jpy = await client.patch(
        f"/api/v1/expenses/{body['id']}",
        json={"currency": "JPY", "amount": "20.5"},
        headers=alice.headers,
    )
    assert to_jpy.status_code == 422
    unchanged = await client.get(f"/api/v1/expenses/{body['id']}", headers=alice.headers)
    assert unchanged.json()["currency"] == "EUR"


async def test_delete(client, alice):
    body = await create(client, alice)
    assert (
        await client.delete(f"/api/v1/expenses/{body['id']}", headers=alice.headers)
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/expenses/{body['id']}", headers=alice.headers)
    ).status_code == 404


async def test_other_users_expenses_are_404_everywhere(client, alice, bob):
    body = await create(client, alice)
    url = f"/api/v1/expenses/{body['id']}"
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    assert (await client.patch(url, json={"amount": "1"}, headers=bob.headers)).status_code == 404
    assert (await client.delete(url, headers=bob.headers)).status_code == 404
    listed = await client.get("/api/v1/expenses", headers=bob.headers)
    assert listed.json() == {"items": [], "next_cursor": None}
    export = await client.get("/api/v1/expenses/export", headers=bob.headers)
    assert body["id"] not in export.text
    still = await client.get(url, headers=alice.headers)
    assert still.json()["amount"] == "12.50"


async def test_filters(client, alice):
    food = (
        await client.post("/api/v1/categories", json={"name": "Food"}, headers=alice.headers)
    ).json()
    a = await create(
        client,
        alice,
        occurred_on="2024-01-10",
        merchant="Bakery Bob",
        amount="5",
        tags=["breakfast"],
        category_id=food["id"],
    )
    b = await create(
        client,
        alice,
        occurred_on="2024-02-10",
        merchant="Rail",
        amount="50",
        note="Trip to the 100% COAST",
        currency="USD",
    )
    c = await create(
        client,
        alice,
        occurred_on="2024-03-10",
        merchant="Bakery Bob",
        amount="7.5",
        tags=["breakfast", "weekend"],
    )

    async def ids(query):
        response = await client.get(f"/api/v1/expenses?{query}", headers=alice.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids("") == [c["id"], b["id"], a["id"]]
    assert await ids("from=2024-02-01&to=2024-02-28") == [b["id"]]
    # c names the same merchant as a, so it was filed under a's category automatically.
    assert await ids(f"category_id={food['id']}") == [c["id"], a["id"]]
    assert await ids("tag=breakfast") == [c["id"], a["id"]]
    assert await ids("tag=weekend") == [c["id"]]
    assert await ids("q=bakery") == [c["id"], a["id"]]
    assert await ids("q=100%25") == [b["id"]]  # % is matched literally
    assert await ids("min_amount=6&max_amount=10") == [c["id"]]
    assert await ids("currency=USD") == [b["id"]]
    for bad in (
        "from=yesterday",
        "min_amount=abc",
        "currency=usd",
        "limit=0",
        "limit=201",
        "cursor=%%%",
    ):
        response = await client.get(f"/api/v1/expenses?{bad}", headers=alice.headers)
        assert response.status_code == 422, bad
    # from after to is an empty range, not an error.
    assert await ids("from=2024-03-01&to=2024-01-01") == []


async def test_pagination_never_repeats_or_skips_under_concurrent_inserts(client, alice):
    originals = set()
    for day in range(1, 26):
        body = await create(client, alice, occurred_on=f"2024-04-{day:02d}", amount=str(day))
        originals.add(body["id"])
    seen: list[str] = []
    cursor = None
    inserted = 0
    while True:
        query = "limit=4" + (f"&cursor={cursor}" if cursor else "")
        page, _ = await asyncio.gather(
            client.get(f"/api/v1/expenses?{query}", headers=alice.headers),
            # New rows land both before and after the reader's position.
            create(client, alice, occurred_on=f"2024-04-{1 + inserted % 28:02d}", amount="1"),
        )
        inserted += 1
        body = page.json()
        seen.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert originals <= set(seen), "a row that existed before paging started was skipped"


async def test_filtered_pages_follow_the_listing_order(client, alice, bob):
    expected = []
    for day in range(1, 12):
        body = await create(
            client, alice, occurred_on=f"2024-02-{day:02d}", currency="USD" if day % 2 else "EUR"
        )
        if day % 2:
            expected.append(body["id"])
    await create(client, bob, occurred_on="2024-02-05", currency="USD")
    expected.reverse()  # newest first
    seen: list[str] = []
    cursor = None
    while True:
        query = "currency=USD&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = (await client.get(f"/api/v1/expenses?{query}", headers=alice.headers)).json()
        seen.extend(item["id"] for item in body["items"])
        assert all(item["currency"] == "USD" for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_idempotent_create(client, alice):
    headers = {**alice.headers, "Idempotency-Key": "retry-123"}
    first = await client.post("/api/v1/expenses", json=expense_body(), headers=headers)
    again = await client.post("/api/v1/expenses", json=expense_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    different = await client.post(
        "/api/v1/expenses", json=expense_body(amount="99"), headers=headers
    )
    assert different.status_code == 409
    listed = await client.get("/api/v1/expenses", headers=alice.headers)
    assert len(listed.json()["items"]) == 1


async def test_concurrent_retries_with_one_key_create_one_expense(client, alice):
    headers = {**alice.headers, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/expenses", json=expense_body(), headers=headers) for _ in range(6))
    )
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    listed = await client.get("/api/v1/expenses", headers=alice.headers)
    assert len(listed.json()["items"]) == 1


async def test_idempotency_keys_are_per_user(client, alice, bob):
    key = {"Idempotency-Key": "same-key"}
    mine = await client.post(
        "/api/v1/expenses", json=expense_body(), headers={**alice.headers, **key}
    )
    theirs = await client.post(
        "/api/v1/expenses", json=expense_body(), headers={**bob.headers, **key}
    )
    assert mine.json()["id"] != theirs.json()["id"]


async def test_auto_category_and_possible_duplicates(client, alice):
    travel = (await client.get("/api/v1/categories", headers=alice.headers)).json()
    travel_id = next(c["id"] for c in travel if c["name"] == "Travel")
    await create(client, alice, merchant="Air Lines Inc.", category_id=travel_id, amount="99")
    guessed = await create(
        client, alice, merchant="air lines inc", amount="120", occurred_on="2024-06-01"
    )
    assert guessed["category_id"] == travel_id
    assert guessed["possible_duplicate_of"] is None
    first = await create(
        client, alice, merchant="Book Shop", amount="15.00", occurred_on="2024-07-01"
    )
    second = await create(
        client, alice, merchant="BOOK SHOP!", amount="15", occurred_on="2024-07-02"
    )
    assert second["possible_duplicate_of"] == first["id"]
    far = await create(client, alice, merchant="Book Shop", amount="15", occurred_on="2024-07-05")
    assert far["possible_duplicate_of"] is None


async def test_possible_duplicate_is_the_earliest_dated_match(client, alice):
    later = await create(client, alice, merchant="Deli", amount="8", occurred_on="2024-03-11")
    earlier = await create(client, alice, merchant="Deli", amount="8", occurred_on="2024-03-10")
    assert earlier["possible_duplicate_of"] == later["id"]
    other_amount = await create(
        client, alice, merchant="Deli", amount="8.01", occurred_on="2024-03-11"
    )
    assert other_amount["possible_duplicate_of"] is None
    other_currency = await create(
        client, alice, merchant="Deli", amount="8", currency="USD", occurred_on="2024-03-11"
    )
    assert other_currency["possible_duplicate_of"] is None

    third = await create(client, alice, merchant="deli", amount="8.00", occurred_on="2024-03-11")
    assert third["possible_duplicate_of"] == earlier["id"]


async def test_guesses_and_duplicates_never_look_at_other_users(client, alice, bob):
    bobs_travel = next(
        c["id"]
        for c in (await client.get("/api/v1/categories", headers=bob.headers)).json()
        if c["name"] == "Travel"
    )
    await create(client, bob, merchant="Night Train", amount="40", category_id=bobs_travel)
    mine = await create(client, alice, merchant="Night Train", amount="40")
    assert mine["category_id"] is None
    assert mine["possible_duplicate_of"] is None


def _parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


async def test_csv_round_trip_into_a_fresh_account(client, alice):
    await client.post("/api/v1/categories", json={"name": "=Hobby"}, headers=alice.headers)
    hobby = next(
        c
        for c in (await client.get("/api/v1/categories", headers=alice.headers)).json()
        if c["name"] == "=Hobby"
    )
    await create(
        client,
        alice,
        amount="3.20",
        merchant='Café, "Zur Post"',
        note="line1\nline2",
        tags=["a", "b c"],
        payment_method="cash",
        category_id=hobby["id"],
    )
    await create(
        client, alice, amount="1000", currency="JPY", merchant="Sushi", occurred_on="2023-12-31"
    )
    await create(
        client, alice, amount="1000", currency="JPY", merchant="Sushi", occurred_on="2023-12-31"
    )  # an identical row must survive as two
    export = await client.get("/api/v1/expenses/export?format=csv", headers=alice.headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.splitlines()
    assert lines[0] == "date,amount,currency,merchant,category,tags,note,payment_method,id"

    fresh = await register(client)
    files = {"file": ("expenses.csv", export.content, "text/csv")}
    imported = await client.post("/api/v1/expenses/import", files=files, headers=fresh.headers)
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"imported": 3, "skipped_duplicates": 0}
    again = await client.post("/api/v1/expenses/import", files=files, headers=fresh.headers)
    assert again.json() == {"imported": 0, "skipped_duplicates": 3}

    def comparable(rows):
        return sorted(
            tuple(
                row[k]
                for k in (
                    "date",
                    "amount",
                    "currency",
                    "merchant",
                    "category",
                    "tags",
                    "note",
                    "payment_method",
                )
            )
            for row in rows
        )

    re_export = await client.get("/api/v1/expenses/export", headers=fresh.headers)
    assert comparable(_parse_csv(re_export.text)) == comparable(_parse_csv(export.text))


async def test_csv_injection_is_neutralised_on_export(client, alice):
    await create(client, alice, merchant='=HYPERLINK("http://evil")')
    export = await client.get("/api/v1/expenses/export", headers=alice.headers)
    assert _parse_csv(export.text)[0]["merchant"].startswith("'=")


async def test_import_validates_every_row_and_imports_nothing_on_error(client, alice):
    content = (
        "date,amount,currency,merchant,category,tags,note,payment_method,id\n"
        "2024-01-01,10.00,EUR,Good row,,,,,\n"
        "2024-13-01,10.00,EUR,Bad date,,,,,\n"
        "2024-01-02,-1,EUR,Bad amount,,,,,\n"
        "2024-01-03,1.5,JPY,,,,,,\n"
    )
    response = await client.post(
        "/api/v1/expenses/import",
        files={"file": ("x.csv", content.encode(), "text/csv")},
        headers=alice.headers,
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {k: errors[0][k] for k in ("row", "field")} == {"row": 3, "field": "date"}
    assert {(e["row"], e["field"]) for e in errors} >= {
        (3, "date"),
        (4, "amount"),
        (5, "amount"),
        (5, "merchant"),
    }
    listed = await client.get("/api/v1/expenses", headers=alice.headers)
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00garbage",
        b"foo,bar\n1,2\n",
        b"",
        b"date,amount,merchant\n2024-01-01,1,A,extra\n",
    ],
)
async def test_import_rejects_malformed_files(client, alice, content):
    response = await client.post(
        "/api/v1/expenses/import",
        files={"file": ("x.csv", content, "text/csv")},
        headers=alice.headers,
    )
    assert response.status_code == 422, response.text


async def test_import_of_a_form_without_a_file_is_400(client, alice):
    response = await client.post(
        "/api/v1/expenses/import", data={"other": "x"}, headers=alice.headers
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"status_code": 400, "detail": "Invalid multipart/form-data"}


async def test_nul_characters_are_refused_not_crashing(client, alice):
    listed = await client.get("/api/v1/expenses?q=a%00b", headers=alice.headers)
    assert listed.status_code == 422
    created = await client.post(
        "/api/v1/expenses", json=expense_body(merchant="a\x00b"), headers=alice.headers
    )
    assert created.status_code == 422
    assert created.json()["errors"]


async def test_writes_and_pages_on_the_embedded_default(sqlite_client):
    account = await register(sqlite_client)
    categories = (await sqlite_client.get("/api/v1/categories", headers=account.headers)).json()
    travel = next(c["id"] for c in categories if c["name"] == "Travel")
    first = await create(sqlite_client, account, merchant="Rail Co", category_id=travel)
    guessed = await create(sqlite_client, account, merchant="rail co", occurred_on="2024-05-02")
    assert guessed["category_id"] == travel
    assert guessed["possible_duplicate_of"] == first["id"]
    # With a budget, an expense of this month goes the transactional way; it is written once.
    budget = {"amount": "10", "currency": "EUR"}
    assert (
        await sqlite_client.post("/api/v1/budgets", json=budget, headers=account.headers)
    ).status_code == 201
    today = dt.datetime.now(dt.UTC).date().isoformat()
    await create(sqlite_client, account, amount="12", occurred_on=today)
    seen = []
    cursor = None
    while True:
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = await sqlite_client.get(f"/api/v1/expenses?{query}", headers=account.headers)
        body = page.json()
        seen.extend(item["occurred_on"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [today, "2024-05-02", "2024-05-01"]
    [spent] = (await sqlite_client.get("/api/v1/budgets", headers=account.headers)).json()
    assert spent["spent"] == "12.00"


async def test_listed_amounts_are_exact_with_bounds_checked(client, alice):
    top = await create(client, alice, amount="999999999.99", occurred_on="2024-05-04")
    yen = await create(client, alice, amount="1200", currency="JPY", occurred_on="2024-05-03")
    dinar = await create(client, alice, amount="0.125", currency="KWD", occurred_on="2024-05-02")
    cents = await create(client, alice, amount="0.1", occurred_on="2024-05-01")

    async def listed(query=""):
        response = await client.get(f"/api/v1/expenses?{query}", headers=alice.headers)
        assert response.status_code == 200, response.text
        return [(item["id"], item["amount"], item["currency"]) for item in response.json()["items"]]

    assert await listed() == [
        (top["id"], "999999999.99", "EUR"),
        (yen["id"], "1200", "JPY"),
        (dinar["id"], "0.125", "KWD"),
        (cents["id"], "0.10", "EUR"),
    ]
    # One billion itself is refused: the upper edge is exclusive.
    refused = await client.post(
        "/api/v1/expenses", json=expense_body(amount="1000000000"), headers=alice.headers
    )
    assert refused.status_code == 422
    # (the schema's pattern allows at most 9 integer digits, and says so)
    assert refused.json()["errors"] == [{"field": "amount", "message": AMOUNT_MESSAGE}]
    assert await listed("min_amount=0") == await listed()
    assert await listed("max_amount=0") == []
    assert await listed("min_amount=1200&max_amount=1200") == [(yen["id"], "1200", "JPY")]
    assert await listed("min_amount=0.125&max_amount=0.125") == [(dinar["id"], "0.125", "KWD")]
    assert await listed("min_amount=999999999.99") == [(top["id"], "999999999.99", "EUR")]
    for field in ("min_amount", "max_amount"):
        # The parameter's pattern (published in the schema) refuses all of them first.
        for bad in ("-1", "-0.01", "1000000000", "0.00001", "inf", "NaN", "1e10", "abc"):
            response = await client.get(f"/api/v1/expenses?{field}={bad}", headers=alice.headers)
            assert response.status_code == 422, (field, bad)
            assert response.json()["errors"] == [{"field": field, "message": BOUND_MESSAGE}]
