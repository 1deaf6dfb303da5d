"""Hostile and out-of-range input on the expense routes: each answers an exact 4xx body."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from expense_wise.api import PATTERN_MESSAGES
from expense_wise.domain.expenses.deps import BOUND_MESSAGE
from expense_wise.fields import AMOUNT_MESSAGE, NOT_BLANK
from expense_wise.money import AMOUNT_FORMAT as CSV_AMOUNT_FORMAT
from tests.conftest import expense_body

DATE_RANGE = "must be between 1900-01-01 and 2999-12-31"


def field_422(field: str, message: str) -> dict[str, object]:
    return {
        "status_code": 422,
        "detail": f"{field}: {message}",
        "errors": [{"field": field, "message": message}],
    }


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"])
async def test_dates_outside_the_range_are_refused_on_create(client, alice, day):
    response = await client.post(
        "/api/v1/expenses", json=expense_body(occurred_on=day), headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert response.json() == field_422("occurred_on", DATE_RANGE)


async def test_the_range_ends_are_accepted(client, alice):
    for day in ("1900-01-01", "2999-12-31"):
        response = await client.post(
            "/api/v1/expenses", json=expense_body(occurred_on=day), headers=alice.headers
        )
        assert response.status_code == 201, response.text


async def test_dates_outside_the_range_are_refused_on_patch(client, alice):
    created = await client.post("/api/v1/expenses", json=expense_body(), headers=alice.headers)
    expense_id = created.json()["id"]
    for day in ("0001-01-01", "9999-12-31"):
        response = await client.patch(
            f"/api/v1/expenses/{expense_id}", json={"occurred_on": day}, headers=alice.headers
        )
        assert response.status_code == 422, response.text
        assert response.json() == field_422("occurred_on", DATE_RANGE)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_an_expense_stored_at_the_calendar_edge_can_still_be_patched(
    client, alice, base_env, day
):
    # Rows written before the range was enforced (an old import) must stay editable.
    created = await client.post("/api/v1/expenses", json=expense_body(), headers=alice.headers)
    expense_id = created.json()["id"]
    conninfo = make_url(base_env["DATABASE_URL"]).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False)) as connection:
        connection.execute("UPDATE expenses SET occurred_on = %s WHERE id = %s", (day, expense_id))
    response = await client.patch(
        f"/api/v1/expenses/{expense_id}", json={"amount": "3"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["occurred_on"] == day
    assert response.json()["amount"] == "3.00"


@pytest.mark.parametrize(
    "path", ["/api/v1/expenses", "/api/v1/expenses/export", "/api/v1/reports/summary"]
)
@pytest.mark.parametrize(("name", "day"), [("from", "0001-01-01"), ("to", "9999-12-31")])
async def test_filter_dates_outside_the_range_are_refused(client, alice, path, name, day):
    response = await client.get(f"{path}?{name}={day}", headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json() == field_422(name, DATE_RANGE)


async def test_imported_dates_outside_the_range_refuse_the_file(client, alice):
    content = b"date,amount,merchant\n2024-01-01,5,Fine\n9999-12-31,5,Far\n0001-01-01,5,Old\n"
    response = await client.post(
        "/api/v1/expenses/import",
        files={"file": ("x.csv", content, "text/csv")},
        headers=alice.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "status_code": 422,
        "detail": "2 invalid value(s); nothing was imported",
        "errors": [
            {"row": 3, "field": "date", "message": DATE_RANGE},
            {"row": 4, "field": "date", "message": DATE_RANGE},
        ],
    }
    listed = await client.get("/api/v1/expenses", headers=alice.headers)
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "the JSON body is nested too deeply"),
        (b'{"amount": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "the JSON body is nested too deeply"),
        (
            b'{"amount":"1","occurred_on":"2024-01-01","merchant":"\xff\xfe"}',
            "the request body is not valid UTF-8",
        ),
    ],
    ids=["deep-array", "deep-field", "invalid-utf8"],
)
async def test_undecodable_json_bodies_are_400(client, alice, content, detail):
    response = await client.post(
        "/api/v1/expenses",
        content=content,
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"status_code": 400, "detail": detail}


async def test_undecodable_json_is_400_without_authentication_too(client):
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email":"\xff@example.com","password":"x"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "status_code": 400,
        "detail": "the request body is not valid UTF-8",
    }


# --- Lenient input: exactly the documented grammar -----------------------------------------

AMOUNT_FORMAT = AMOUNT_MESSAGE  # the amount pattern's message (expense_wise.fields)
BLANK = PATTERN_MESSAGES[repr(NOT_BLANK)]


@pytest.mark.parametrize(
    "amount",
    [
        "1_000",
        "\u0661\u0662\u0663",  # Arabic-Indic digits
        "\uff11\uff12",  # fullwidth digits
        "1e2",
        "1E2",
        " 12.50",
        "12.50 ",
        "+5",
        ".5",
        "12.",
        "0x10",
        "NaN",
        "Infinity",
        "1,50",
    ],
)
async def test_amounts_outside_the_grammar_are_refused(client, alice, amount):
    response = await client.post(
        "/api/v1/expenses", json=expense_body(amount=amount), headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert response.json() == field_422("amount", AMOUNT_FORMAT)


@pytest.mark.parametrize("amount", [12, 12.5, 1e-05])
async def test_amounts_are_strings_not_json_numbers(client, alice, amount):
    response = await client.post(
        "/api/v1/expenses", json=expense_body(amount=amount), headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert response.json() == field_422("amount", "must be a string")


@pytest.mark.parametrize(("amount", "stored"), [("12", "12.00"), ("12.5", "12.50")])
async def test_amounts_in_the_grammar_are_accepted(client, alice, amount, stored):
    response = await client.post(
        "/api/v1/expenses", json=expense_body(amount=amount), headers=alice.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["amount"] == stored


async def test_the_amount_grammar_holds_for_budgets_recurring_patch_and_filters(client, alice):
    created = await client.post("/api/v1/expenses", json=expense_body(), headers=alice.headers)
    attempts = [
        client.post("/api/v1/budgets", json={"amount": "1e2"}, headers=alice.headers),
        client.post(
            "/api/v1/recurring-expenses",
            json={
                "amount": "1_000",
                "merchant": "Gym",
                "frequency": "monthly",
                "starts_on": "2026-11-01",
            },
            headers=alice.headers,
        ),
        client.patch(
            f"/api/v1/expenses/{created.json()['id']}",
            json={"amount": "\u0661\u0662"},
            headers=alice.headers,
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 422, response.text
        assert response.json() == field_422("amount", AMOUNT_FORMAT)
    for name in ("min_amount", "max_amount"):
        response = await client.get(f"/api/v1/expenses?{name}=1e2", headers=alice.headers)
        assert response.status_code == 422, response.text
        assert response.json() == field_422(name, BOUND_MESSAGE)


async def test_imported_amounts_follow_the_grammar(client, alice):
    content = (
        "date,amount,merchant\n2024-01-01,1_000,A\n2024-01-02,1e2,B\n2024-01-03,\u0661\u0662,C\n"
    )
    response = await client.post(
        "/api/v1/expenses/import",
        files={"file": ("x.csv", content.encode(), "text/csv")},
        headers=alice.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "status_code": 422,
        "detail": "3 invalid value(s); nothing was imported",
        "errors": [
            {"row": row, "field": "amount", "message": CSV_AMOUNT_FORMAT} for row in (2, 3, 4)
        ],
    }


LIMIT_FORMAT = "must be a whole number in digits 0-9, such as 50"


@pytest.mark.parametrize("path", ["/api/v1/expenses", "/api/v1/receipts"])
@pytest.mark.parametrize("limit", ["1e2", "1.0", "+10", "1_0"])
async def test_query_integers_are_plain_ascii_digits(client, alice, path, limit):
    response = await client.get(path, params={"limit": limit}, headers=alice.headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status_code"] == 422
    assert [error["field"] for error in body["errors"]] == ["limit"]
    if limit == "1e2":  # what Litestar alone let through
        assert body == field_422("limit", LIMIT_FORMAT)


async def test_a_plain_limit_still_pages(client, alice):
    for day in ("2024-01-01", "2024-01-02"):
        await client.post(
            "/api/v1/expenses", json=expense_body(occurred_on=day), headers=alice.headers
        )
    response = await client.get("/api/v1/expenses?limit=1", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 1
    assert response.json()["next_cursor"]


async def test_a_blank_merchant_is_refused_not_stored_empty(client, alice):
    refused = await client.post(
        "/api/v1/expenses", json=expense_body(merchant=" \t "), headers=alice.headers
    )
    assert refused.status_code == 422, refused.text
    assert refused.json() == field_422("merchant", BLANK)
    created = await client.post(
        "/api/v1/expenses", json=expense_body(merchant="  Cafe  "), headers=alice.headers
    )
    assert created.json()["merchant"] == "Cafe"
    patched = await client.patch(
        f"/api/v1/expenses/{created.json()['id']}", json={"merchant": "   "}, headers=alice.headers
    )
    assert patched.status_code == 422, patched.text
    assert patched.json() == field_422("merchant", BLANK)
    recurring = await client.post(
        "/api/v1/recurring-expenses",
        json={"amount": "5", "merchant": "  ", "frequency": "monthly", "starts_on": "2026-11-01"},
        headers=alice.headers,
    )
    assert recurring.status_code == 422, recurring.text
    assert recurring.json() == field_422("merchant", BLANK)
    category = await client.post("/api/v1/categories", json={"name": "   "}, headers=alice.headers)
    assert category.status_code == 422, category.text
    assert category.json() == field_422("name", BLANK)


async def test_nul_in_a_tag_is_refused_on_create_and_filter(client, alice):
    created = await client.post(
        "/api/v1/expenses", json=expense_body(tags=["a\x00b"]), headers=alice.headers
    )
    assert created.status_code == 422, created.text
    message = "must not contain a comma, semicolon, line break or NUL"
    assert created.json() == field_422("tags[0]", message)
    listed = await client.get("/api/v1/expenses?tag=a%00b", headers=alice.headers)
    assert listed.status_code == 422, listed.text
    assert [error["field"] for error in listed.json()["errors"]] == ["tag"]


async def test_values_the_database_refuses_are_explained_without_its_text(client, alice):
    response = await client.post(
        "/api/v1/expenses", json=expense_body(merchant="a\x00b"), headers=alice.headers
    )
    # The schema's pattern refuses it before the database sees it, naming the field.
    assert response.status_code == 422, response.text
    assert response.json() == field_422("merchant", BLANK)
    assert "PostgreSQL" not in response.text


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            b"date,amount,merchant,merchant\n2024-01-01,1,a,b\n",
            {"row": 1, "field": "header", "message": "duplicate columns: merchant"},
        ),
        (
            b'date,amount,merchant\n2024-01-01,1,"abc\n',
            {"row": 2, "field": "file", "message": "malformed CSV: unexpected end of data"},
        ),
        (
            b"date,amount,merchant,tags\n2024-01-01,1,a,x\x00y\n",
            {"row": 2, "field": "tags", "message": "must not contain NUL characters"},
        ),
    ],
    ids=["duplicate-column", "unterminated-quote", "nul-in-tag"],
)
async def test_malformed_csv_is_refused_whole(client, alice, content, error):
    response = await client.post(
        "/api/v1/expenses/import",
        files={"file": ("x.csv", content, "text/csv")},
        headers=alice.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "status_code": 422,
        "detail": "1 invalid value(s); nothing was imported",
        "errors": [error],
    }


async def test_imported_dates_are_exactly_yyyy_mm_dd(client, alice):
    content = b"date,amount,merchant\n20240101,5,A\n2024-W01-1,5,B\n2024-01-01,5,C\n"
    response = await client.post(
        "/api/v1/expenses/import",
        files={"file": ("x.csv", content, "text/csv")},
        headers=alice.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "status_code": 422,
        "detail": "2 invalid value(s); nothing was imported",
        "errors": [
            {"row": row, "field": "date", "message": "must be a date as YYYY-MM-DD"}
            for row in (2, 3)
        ],
    }
