"""Hostile and out-of-range input on the expense routes: each answers an exact 4xx body."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

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
