"""The published OpenAPI contract: the committed openapi.json is what the app serves, it says
what the server enforces, and errors name the field a client sent."""

from __future__ import annotations

import json
import random
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest

from expense_wise.domain.accounts.auth import PUBLIC_PATHS
from expense_wise.money import (
    AMOUNT_PATTERN,
    BOUND_PATTERN,
    AmountError,
    amount_pattern,
    parse_amount,
    parse_bound,
)
from scripts.export_openapi import SNAPSHOT, render
from tests.conftest import expense_body

METHODS = ("get", "post", "put", "patch", "delete")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(render())


def test_the_committed_contract_is_the_apps(document):
    committed = json.loads(SNAPSHOT.read_text())
    assert committed == document, (
        "the API's OpenAPI document changed: if that was intended, run `make openapi` and "
        "commit openapi.json"
    )


async def test_the_app_serves_the_contract(client, document):
    served = (await client.get("/schema/openapi.json")).json()
    assert served == document


def test_every_operation_is_described_for_people(document):
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        # A sentence, not the handler's name ("GetMe").
        assert " " in operation["summary"], where
        assert len(operation["description"]) > 20, where


def test_public_operations_need_no_token_and_the_others_do(document):
    public = {path for path in document["paths"] if any(re.match(p, path) for p in PUBLIC_PATHS)}
    assert public >= {"/health", "/ready", "/api/v1/auth/login", "/api/v1/auth/register"}
    assert "security" not in document
    for path, method, operation in operations(document):
        if path in public:
            # (login and refresh still answer 401 to bad credentials)
            assert "security" not in operation, f"{method} {path}"
        else:
            assert operation["security"] == [{"BearerToken": []}], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"


async def test_the_documented_security_is_what_is_enforced(client, document):
    for path, method, operation in operations(document):
        concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        response = await client.request(method.upper(), concrete)
        if "security" in operation:
            assert response.status_code == 401, f"{method} {path}"
        else:
            assert response.status_code != 401, f"{method} {path}"


def test_errors_have_one_schema_with_retry_after_and_created_resources_a_location(document):
    schemas = document["components"]["schemas"]
    assert "ErrorBody" not in schemas and "ValidationErrorBody" not in schemas
    error = schemas["Error"]
    assert error["required"] == ["status_code", "detail"]
    assert {"errors", "receipt_id", "expense_id", "review_fields"} <= set(error["properties"])
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        for code, response in operation["responses"].items():
            if int(code) >= 400 and not (path == "/ready" and code == "503"):
                content = response["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (where, code)
            if code in ("429", "503"):
                assert response["headers"]["Retry-After"]["required"] is True, (where, code)
        assert "429" in operation["responses"], where
        created = {"201", "202"} & set(operation["responses"])
        if created and operation["operationId"] not in {
            "requestPasswordReset",
            "resendVerificationEmail",
        }:
            (code,) = created
            assert "Location" in operation["responses"][code]["headers"], where


def test_binary_answers_are_declared(document):
    download = document["paths"]["/api/v1/receipts/{receipt_id}/file"]["get"]["responses"]
    assert set(download["200"]["content"]) == {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/tiff",
        "application/pdf",
    }
    assert download["200"]["content"]["image/png"]["schema"]["format"] == "binary"
    assert "Location" in download["307"]["headers"]
    export = document["paths"]["/api/v1/expenses/export"]["get"]["responses"]["200"]
    assert export["content"] == {"text/csv": {"schema": {"type": "string"}}}


def test_request_schemas_state_what_the_server_enforces(document):
    schemas = document["components"]["schemas"]
    for name in ("ExpenseCreate", "ExpenseUpdate", "RegisterRequest", "UserUpdate"):
        assert schemas[name]["additionalProperties"] is False, name
    expense = schemas["ExpenseCreate"]["properties"]
    assert expense["amount"]["type"] == "string"
    assert expense["amount"]["pattern"] == AMOUNT_PATTERN
    assert expense["tags"]["items"]["minLength"] == 1
    assert expense["occurred_on"]["format"] == "date"
    assert schemas["Currency"]["enum"][:3] == ["AED", "AFN", "ALL"]
    # The amount's decimals follow the currency.
    rules = schemas["ExpenseCreate"]
    assert rules["if"]["properties"]["currency"]["enum"][:2] == ["BIF", "CLP"]
    assert rules["then"]["properties"]["amount"]["pattern"] == amount_pattern(0)
    assert rules["else"]["then"]["properties"]["amount"]["pattern"] == amount_pattern(3)
    assert rules["else"]["else"]["properties"]["amount"]["pattern"] == amount_pattern(2)
    listing = document["paths"]["/api/v1/expenses"]["get"]["parameters"]
    cursor = next(p for p in listing if p["name"] == "cursor")
    assert cursor["schema"]["pattern"]


def _random_decimal(rng: random.Random) -> str:
    digits = "0123456789"
    whole = "".join(rng.choice(digits) for _ in range(rng.choice([1, 1, 2, 3, 9, 10])))
    if rng.random() < 0.6:
        places = rng.choice([1, 2, 3, 4, 5])
        return whole + "." + "".join(rng.choice("0001239") for _ in range(places))
    return whole


@pytest.mark.parametrize(("currency", "places"), [("JPY", 0), ("EUR", 2), ("KWD", 3)])
def test_the_amount_pattern_accepts_exactly_what_the_server_does(currency, places):
    rng = random.Random(places)
    pattern = re.compile(amount_pattern(places))
    samples = [_random_decimal(rng) for _ in range(5000)]
    samples += ["0", "0.00", "1", "1.", ".5", "0.01", "0.001", "12.50", "12.500", "999999999.99"]
    samples += ["1000000000", "01", "1e3", "+1", " 1", "1_000", "-1", "0.0030"]
    for sample in samples:
        try:
            parse_amount(sample, currency)
            accepted = True
        except AmountError:
            accepted = False
        matched = bool(pattern.fullmatch(sample))
        # The server's parser is lenient about form (" 1", "1e3"); the schema's pattern is
        # what the API checks first, so only matching strings reach it.
        if matched:
            assert accepted, (currency, sample)
        elif accepted:
            assert not re.fullmatch(r"[1-9][0-9]*(\.[0-9]+)?|0\.[0-9]+", sample), sample


def test_the_bound_pattern_accepts_exactly_what_the_server_does():
    rng = random.Random(7)
    pattern = re.compile(BOUND_PATTERN)
    for sample in [_random_decimal(rng) for _ in range(5000)]:
        if pattern.fullmatch(sample):
            assert parse_bound(sample) >= Decimal(0), sample


async def test_options_allows_every_method_of_the_path(client):
    response = await client.options("/api/v1/budgets")
    assert response.headers["allow"] == "GET, OPTIONS, POST"
    response = await client.options(f"/api/v1/expenses/{uuid.uuid4()}")
    assert response.headers["allow"] == "DELETE, GET, OPTIONS, PATCH"


async def test_created_resources_answer_their_location(client, alice):
    response = await client.post("/api/v1/expenses", json=expense_body(), headers=alice.headers)
    assert response.headers["location"] == f"/api/v1/expenses/{response.json()['id']}"
    headers = {**alice.headers, "Idempotency-Key": "k-1"}
    first = await client.post("/api/v1/expenses", json=expense_body(), headers=headers)
    replay = await client.post("/api/v1/expenses", json=expense_body(), headers=headers)
    assert replay.headers["location"] == first.headers["location"]
    assert replay.headers["location"] == f"/api/v1/expenses/{first.json()['id']}"
    for path, body, prefix in (
        ("/api/v1/categories", {"name": "Food"}, "/api/v1/categories/"),
        ("/api/v1/budgets", {"amount": "100"}, "/api/v1/budgets/"),
        ("/api/v1/tokens", {"name": "script"}, "/api/v1/tokens/"),
        (
            "/api/v1/recurring-expenses",
            {
                "amount": "9.99",
                "merchant": "Gym",
                "frequency": "monthly",
                "starts_on": "2026-01-01",
            },
            "/api/v1/recurring-expenses/",
        ),
    ):
        response = await client.post(path, json=body, headers=alice.headers)
        assert response.status_code == 201, response.text
        assert response.headers["location"] == prefix + response.json()["id"]
        assert (
            await client.get(response.headers["location"], headers=alice.headers)
        ).status_code in (
            200,
            405,  # tokens are listed, not fetched one by one
        )


async def _errors(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    return [{"field": e["field"], "message": e["message"]} for e in response.json()["errors"]]


async def test_errors_name_the_field_the_client_sent(client, alice):
    post = client.post
    unknown = await post(
        "/api/v1/expenses", json=expense_body(merchnt="typo"), headers=alice.headers
    )
    assert await _errors(unknown) == [{"field": "merchnt", "message": "is not a known field"}]
    body = expense_body()
    del body["merchant"]
    missing = await post("/api/v1/expenses", json=body, headers=alice.headers)
    assert await _errors(missing) == [{"field": "merchant", "message": "is required"}]
    nested = await post(
        "/api/v1/expenses", json=expense_body(tags=["ok", ""]), headers=alice.headers
    )
    assert await _errors(nested) == [{"field": "tags[1]", "message": "must not be empty"}]
    query = await client.get("/api/v1/expenses?from=yesterday", headers=alice.headers)
    assert await _errors(query) == [
        {"field": "from", "message": "must be a date such as 2024-05-01"}
    ]
    header = await post(
        "/api/v1/expenses",
        json=expense_body(),
        headers={**alice.headers, "Idempotency-Key": "k" * 201},
    )
    assert (await _errors(header))[0]["field"] == "Idempotency-Key"
    email = await post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": "Sturdy-Pass-42"}
    )
    assert await _errors(email) == [
        {"field": "email", "message": "must be an email address such as ada@example.com"}
    ]
    amount = await post("/api/v1/expenses", json=expense_body(amount=12.5), headers=alice.headers)
    assert await _errors(amount) == [{"field": "amount", "message": "must be a string"}]


async def test_bodies_are_read_as_strictly_as_the_schema_says(client, alice):
    lenient = await client.patch("/api/v1/me", json={"monthly_summary": 0}, headers=alice.headers)
    assert await _errors(lenient) == [
        {"field": "monthly_summary", "message": "must be true or false"}
    ]
    # JSON Schema counts 2.0 as an integer, and so does the API.
    whole = await client.post(
        "/api/v1/budgets", json={"amount": "10", "alert_thresholds": [50.0]}, headers=alice.headers
    )
    assert whole.status_code == 201, whole.text
    assert whole.json()["alert_thresholds"] == [50]


async def test_query_parameters_are_given_once_and_never_null(client, alice):
    twice = await client.get("/api/v1/expenses?limit=5&limit=7", headers=alice.headers)
    assert await _errors(twice) == [{"field": "limit", "message": "must be given at most once"}]
    null = await client.get("/api/v1/expenses?to=null", headers=alice.headers)
    assert await _errors(null) == [{"field": "to", "message": "must not be null"}]
    # "null" is a search text like any other.
    assert (await client.get("/api/v1/expenses?q=null", headers=alice.headers)).status_code == 200


async def test_any_cursor_of_the_documented_form_is_a_position(client, alice):
    for _ in range(3):
        await client.post("/api/v1/expenses", json=expense_body(), headers=alice.headers)
    page = (await client.get("/api/v1/expenses?limit=2", headers=alice.headers)).json()
    assert re.fullmatch(r"[0-9]+\.[0-9a-f]{32}", page["next_cursor"])
    rest = await client.get(
        f"/api/v1/expenses?limit=2&cursor={page['next_cursor']}", headers=alice.headers
    )
    assert len(rest.json()["items"]) == 1
    for cursor in ("0." + "0" * 32, "999999999999999999." + "f" * 32):
        response = await client.get(f"/api/v1/expenses?cursor={cursor}", headers=alice.headers)
        assert response.status_code == 200, response.text
    garbage = await client.get("/api/v1/expenses?cursor=garbage", headers=alice.headers)
    assert await _errors(garbage) == [
        {"field": "cursor", "message": "must be a next_cursor value from an earlier page"}
    ]
    receipts = await client.get(
        "/api/v1/receipts?cursor=999999999999999999." + "f" * 32, headers=alice.headers
    )
    assert receipts.status_code == 200, receipts.text


async def test_references_to_missing_categories_conflict(client, alice):
    response = await client.post(
        "/api/v1/expenses", json=expense_body(category_id=str(uuid.uuid4())), headers=alice.headers
    )
    assert response.status_code == 409
    assert response.json()["errors"] == [{"field": "category_id", "message": "no such category"}]


async def test_a_patch_amount_that_does_not_fit_the_stored_currency_conflicts(client, alice):
    created = await client.post(
        "/api/v1/expenses", json=expense_body(amount="1200", currency="JPY"), headers=alice.headers
    )
    expense = f"/api/v1/expenses/{created.json()['id']}"
    response = await client.patch(expense, json={"amount": "12.50"}, headers=alice.headers)
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == "amount"
    # Both sent: the body alone is invalid, a 422.
    both = await client.patch(
        expense, json={"amount": "12.50", "currency": "JPY"}, headers=alice.headers
    )
    assert both.status_code == 422
    fits = await client.patch(
        expense, json={"amount": "12.50", "currency": "EUR"}, headers=alice.headers
    )
    assert fits.status_code == 200
    assert fits.json()["amount"] == "12.50"
