"""Clients generated from the live schema work: a Python client (openapi-python-client) with no
generator warnings drives a consumer's whole journey, and a TypeScript client
(openapi-typescript) type-checks a small usage with tsc."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import os
import re
import shutil
import subprocess
import sys
import time
import typing
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RECEIPTS_DIR, REPO_ROOT, VENV_BIN, live_server, missing_data

PASSWORD = "Sturdy-Password-42"
CLIENTS_DIR = REPO_ROOT / "clients"


def generate_python_client(schema_url: str, output: Path) -> str:
    result = subprocess.run(
        [
            str(VENV_BIN / "openapi-python-client"),
            "generate",
            "--url",
            schema_url,
            "--config",
            str(CLIENTS_DIR / "openapi-python-client.yaml"),
            "--output-path",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    return log


def import_client(output: Path) -> Any:
    sys.path.insert(0, str(output))
    try:
        return importlib.import_module("expense_wise_client")
    finally:
        sys.path.remove(str(output))


def token_in(message: Any) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"token=([A-Za-z0-9_\-]+)", body)
    assert match, body
    return match[1]


def test_python_client_drives_the_whole_journey(
    mail_env, smtp_server, start_worker, tmp_path, monkeypatch
):
    mail_env["ACCESS_TOKEN_TTL"] = "1h"
    start_worker(mail_env)
    with live_server(mail_env) as (base, _process):
        log = generate_python_client(f"{base}/schema/openapi.json", tmp_path / "client")
        assert "warning" not in log.lower(), log
        import_client(tmp_path / "client")
        journey(base, smtp_server)


def journey(base: str, smtp_server: Any) -> None:
    from expense_wise_client import AuthenticatedClient, Client
    from expense_wise_client.api.account import (
        create_personal_token,
        delete_me,
        delete_personal_token,
        get_me,
        list_personal_tokens,
    )
    from expense_wise_client.api.auth import login, refresh_tokens, register, verify_email
    from expense_wise_client.api.budgets import create_budget, delete_budget, get_budget
    from expense_wise_client.api.categories import (
        create_category,
        delete_category,
        list_categories,
    )
    from expense_wise_client.api.expenses import (
        create_expense,
        delete_expense,
        export_expenses,
        import_expenses,
        list_expenses,
    )
    from expense_wise_client.api.receipts import (
        create_expense_from_receipt,
        delete_receipt,
        download_receipt_file,
        get_receipt,
        upload_receipt,
    )
    from expense_wise_client.api.recurring_expenses import (
        create_recurring_expense,
        delete_recurring_expense,
        list_recurring_expenses,
    )
    from expense_wise_client.api.reports import get_summary
    from expense_wise_client.models import (
        BudgetCreate,
        CategoryCreate,
        Error,
        ExpenseCreate,
        ExpenseFromReceipt,
        GetSummaryGroupBy,
        ImportExpensesBody,
        LoginRequest,
        PersonalTokenCreate,
        ReceiptStatus,
        RecurringExpenseCreate,
        RecurringExpenseCreateFrequency,
        RefreshRequest,
        RegisterRequest,
        UploadReceiptBody,
        VerifyEmailRequest,
    )
    from expense_wise_client.types import File

    # Amounts are strings in the generated models, never floats.
    assert typing.get_type_hints(ExpenseCreate)["amount"] is str

    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    email = "journey@example.com"
    created = register.sync_detailed(
        client=anonymous, body=RegisterRequest(email=email, password=PASSWORD, name="Ada")
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/api/v1/me"
    [mail] = wait_for_mail(smtp_server, email)
    verified = verify_email.sync_detailed(
        client=anonymous, body=VerifyEmailRequest(token=token_in(mail))
    )
    assert verified.status_code == 204
    pair = login.sync(client=anonymous, body=LoginRequest(email=email, password=PASSWORD))
    pair = refresh_tokens.sync(
        client=anonymous, body=RefreshRequest(refresh_token=pair.refresh_token)
    )
    client = AuthenticatedClient(base_url=base, token=pair.access_token)
    assert get_me.sync(client=client).email_verified is True

    food = create_category.sync(client=client, body=CategoryCreate(name="Food"))
    assert "Food" in [c.name for c in list_categories.sync(client=client)]

    for day in range(1, 8):
        create_expense.sync(
            client=client,
            body=ExpenseCreate(
                amount="12.50",
                occurred_on=dt.date(2026, 3, day),
                merchant=f"Shop {day}",
                category_id=food.id,
            ),
        )
    # A retried request with the same Idempotency-Key creates nothing new.
    retry_body = ExpenseCreate(amount="3.20", occurred_on=dt.date(2026, 3, 8), merchant="Bakery")
    first = create_expense.sync_detailed(client=client, body=retry_body, idempotency_key="r-1")
    again = create_expense.sync_detailed(client=client, body=retry_body, idempotency_key="r-1")
    assert first.status_code == again.status_code == 201
    assert first.parsed.id == again.parsed.id
    assert again.headers["idempotent-replayed"] == "true"

    seen, cursor = [], None
    while True:
        page = list_expenses.sync(client=client, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += page.items
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == 8 and len({expense.id for expense in seen}) == 8

    invalid = create_expense.sync(
        client=client,
        body=ExpenseCreate(amount="0", occurred_on=dt.date(2026, 3, 1), merchant="Nothing"),
    )
    assert isinstance(invalid, Error)
    assert invalid.errors[0].field == "amount"

    budget = create_budget.sync(
        client=client, body=BudgetCreate(amount="500.00", category_id=food.id)
    )
    assert get_budget.sync(client=client, budget_id=budget.id).amount == "500.00"
    gym = create_recurring_expense.sync(
        client=client,
        body=RecurringExpenseCreate(
            amount="29.90",
            merchant="Gym",
            frequency=RecurringExpenseCreateFrequency.MONTHLY,
            # Next month: no occurrence is due during the test, so the totals below are exact.
            starts_on=dt.date.today() + dt.timedelta(days=40),
        ),
    )
    assert [r.id for r in list_recurring_expenses.sync(client=client)] == [gym.id]

    image = (RECEIPTS_DIR / "cafe.png").read_bytes()
    upload = upload_receipt.sync_detailed(
        client=client,
        body=UploadReceiptBody(
            file=File(payload=io.BytesIO(image), file_name="cafe.png", mime_type="image/png")
        ),
    )
    assert upload.status_code == 202
    receipt = upload.parsed
    assert upload.headers["location"] == f"/api/v1/receipts/{receipt.id}"
    deadline = time.monotonic() + 120
    while receipt.status not in (ReceiptStatus.DONE, ReceiptStatus.FAILED):
        assert time.monotonic() < deadline, "the receipt was not processed in 120 s"
        time.sleep(0.5)
        receipt = get_receipt.sync(client=client, receipt_id=receipt.id)
    assert receipt.status == ReceiptStatus.DONE, receipt.error
    from_receipt = create_expense_from_receipt.sync_detailed(
        client=client,
        receipt_id=receipt.id,
        body=ExpenseFromReceipt(merchant="Kopi Corner", confirm=True),
    )
    assert from_receipt.status_code == 201, from_receipt.content
    assert from_receipt.parsed.receipt_id == receipt.id
    assert from_receipt.parsed.amount == "31.00"
    downloaded = download_receipt_file.sync_detailed(client=client, receipt_id=receipt.id)
    assert downloaded.status_code == 200
    assert downloaded.parsed.payload.read() == image

    csv_text = export_expenses.sync(client=client)
    assert csv_text.splitlines()[0].startswith("date,amount,currency,merchant")
    assert len(csv_text.splitlines()) == 1 + 9
    reimported = import_expenses.sync(
        client=client,
        body=ImportExpensesBody(
            file=File(
                payload=io.BytesIO(csv_text.encode()), file_name="e.csv", mime_type="text/csv"
            )
        ),
    )
    assert (reimported.imported, reimported.skipped_duplicates) == (0, 9)

    summary = get_summary.sync(client=client, group_by=GetSummaryGroupBy.CATEGORY)
    assert [(t.currency, t.total, t.count) for t in summary.totals] == [("EUR", "121.70", 9)]

    token = create_personal_token.sync(client=client, body=PersonalTokenCreate(name="script"))
    script = AuthenticatedClient(base_url=base, token=token.token)
    assert get_me.sync(client=script).email == email
    assert [t.name for t in list_personal_tokens.sync(client=client)] == ["script"]
    assert delete_personal_token.sync_detailed(client=client, token_id=token.id).status_code == 204
    assert isinstance(get_me.sync(client=script), Error)

    for expense_id in [expense.id for expense in seen] + [from_receipt.parsed.id]:
        assert delete_expense.sync_detailed(client=client, expense_id=expense_id).status_code == 204
    assert delete_receipt.sync_detailed(client=client, receipt_id=receipt.id).status_code == 204
    assert delete_budget.sync_detailed(client=client, budget_id=budget.id).status_code == 204
    assert (
        delete_recurring_expense.sync_detailed(client=client, recurring_id=gym.id).status_code
        == 204
    )
    assert list_expenses.sync(client=client).items == []
    assert delete_category.sync_detailed(client=client, category_id=food.id).status_code == 204
    assert delete_me.sync_detailed(client=client).status_code == 204
    gone = login.sync(
        client=Client(base_url=base), body=LoginRequest(email=email, password=PASSWORD)
    )
    assert isinstance(gone, Error) and gone.status_code == 401


def wait_for_mail(smtp_server: Any, address: str, timeout: float = 30.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while not smtp_server.to(address):
        assert time.monotonic() < deadline, f"no mail to {address} after {timeout} s"
        time.sleep(0.1)
    return smtp_server.to(address)


# --- TypeScript: openapi-typescript + tsc ---------------------------------------------------

TS_USAGE = """
import type { components, paths } from "./schema";

type Expense = components["schemas"]["Expense"];
type NewExpense = paths["/api/v1/expenses"]["post"]["requestBody"]["content"]["application/json"];
type Failure = components["schemas"]["Error"];

const draft: NewExpense = { amount: "12.50", occurred_on: "2024-05-01", merchant: "Cafe" };
// @ts-expect-error amounts are decimal strings, not numbers
const wrong: NewExpense = { amount: 12.5, occurred_on: "2024-05-01", merchant: "Cafe" };

function describe(expense: Expense): string {
  return `${expense.merchant}: ${expense.amount} ${expense.currency}`;
}
function firstField(error: Failure): string | null | undefined {
  return error.errors?.[0]?.field;
}
export { draft, wrong, describe, firstField };
"""


def test_typescript_client_compiles(base_env, tmp_path):
    if shutil.which("npm") is None or shutil.which("node") is None:
        missing_data("node and npm are needed for the TypeScript client check")
    if not (CLIENTS_DIR / "node_modules").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=CLIENTS_DIR,
            check=True,
            capture_output=True,
            timeout=600,
        )
    bin_dir = CLIENTS_DIR / "node_modules" / ".bin"
    with live_server(base_env) as (base, _process):
        schema = tmp_path / "openapi.json"
        with urllib.request.urlopen(f"{base}/schema/openapi.json", timeout=10) as response:
            schema.write_bytes(response.read())
    generated = subprocess.run(
        [
            str(bin_dir / "openapi-typescript"),
            str(schema),
            "-o",
            str(tmp_path / "schema.ts"),
            # A field with a default may be left out of a request.
            "--default-non-nullable",
            "false",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    (tmp_path / "usage.ts").write_text(TS_USAGE)
    compiled = subprocess.run(
        [
            str(bin_dir / "tsc"),
            "--noEmit",
            "--strict",
            "--target",
            "es2020",
            "--module",
            "es2020",
            "--moduleResolution",
            "node",
            str(tmp_path / "usage.ts"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NODE_OPTIONS": "--max-old-space-size=1024"},
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


@pytest.fixture(autouse=True)
def _forget_generated_client():
    yield
    for name in [name for name in sys.modules if name.startswith("expense_wise_client")]:
        del sys.modules[name]
