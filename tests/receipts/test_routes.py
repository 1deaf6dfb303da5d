"""Receipt routes on PostgreSQL + Redis with local storage (no worker runs here: uploaded
receipts stay pending, and finished ones are written straight to the database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import Account, AppClient, expense_body, register, running_app
from tests.receipts.conftest import (
    insert_receipt,
    load_receipt,
    new_id,
    png_bomb,
    png_bytes,
    receipt_bytes,
    truncated_jpeg,
    upload,
)

# A reading whose every field is above the review threshold.
SURE = {"merchant": 0.97, "date": 0.98, "total": 0.99, "currency": 0.8}


async def test_upload_judges_the_type_by_bytes_and_stores_the_original(
    client: AppClient[Any], alice: Account
) -> None:
    png = png_bytes()
    response = await upload(
        client, alice, png, filename="invoice.pdf", content_type="application/pdf"
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(png)
    assert body["extracted"] is None and body["expense_id"] is None

    download = await client.get(f"/api/v1/receipts/{body['id']}/file", headers=alice.headers)
    assert download.status_code == 200
    assert download.content == png
    assert download.headers["content-type"] == "image/png"
    assert "invoice" not in download.headers["content-disposition"]

    row = await load_receipt(client, body["id"])
    assert row is not None
    # The key comes from the ids, never from the uploaded file name.
    assert row.storage_key == f"receipts/{alice.id}/{body['id']}"


async def test_upload_accepts_pdf_webp_and_tiff(client: AppClient[Any], alice: Account) -> None:
    from PIL import Image

    for image_format, expected in (
        ("PDF", "application/pdf"),
        ("WEBP", "image/webp"),
        ("TIFF", "image/tiff"),
    ):
        import io

        buffer = io.BytesIO()
        Image.new("RGB", (60, 80), "white").save(buffer, format=image_format)
        response = await upload(client, alice, buffer.getvalue(), filename="scan.bin")
        assert response.status_code == 202, (image_format, response.text)
        assert response.json()["content_type"] == expected


async def test_upload_rejects_what_is_not_a_supported_image(
    client: AppClient[Any], alice: Account
) -> None:
    response = await upload(
        client,
        alice,
        b"just some text, not a receipt\n",
        filename="r.jpg",
        content_type="image/jpeg",
    )
    assert response.status_code == 415, response.text
    assert "JPEG" in response.json()["detail"]

    bomb = await upload(client, alice, png_bomb(), filename="bomb.png")
    assert bomb.status_code == 422, bomb.text
    assert "too large" in bomb.json()["detail"]

    broken = await upload(client, alice, truncated_jpeg(), filename="broken.jpg")
    assert broken.status_code == 422, broken.text
    assert broken.json()["detail"]

    missing_field = await client.post(
        "/api/v1/receipts", files={"other": ("a.png", png_bytes())}, headers=alice.headers
    )
    assert missing_field.status_code == 422

    listing = await client.get("/api/v1/receipts", headers=alice.headers)
    assert listing.json()["items"] == []  # nothing half-written


async def test_same_file_twice_is_a_conflict_naming_the_first(
    client: AppClient[Any], alice: Account, bob: Account
) -> None:
    data = png_bytes(41, 21)
    first = await upload(client, alice, data)
    assert first.status_code == 202
    again = await upload(client, alice, data, filename="other-name.png")
    assert again.status_code == 409, again.text
    assert again.json()["receipt_id"] == first.json()["id"]
    # Per user: another account may upload the same file.
    assert (await upload(client, bob, data)).status_code == 202


async def test_size_limit_is_413(base_env: dict[str, str], tmp_path: Path) -> None:
    base_env["RECEIPT_MAX_BYTES"] = "20KiB"
    async with running_app(base_env) as client:
        account = await register(client)
        small = await upload(client, account, png_bytes())
        assert small.status_code == 202, small.text
        # Above the file limit but inside the request allowance: the service refuses it.
        just_over = await upload(client, account, receipt_bytes()[: 20 * 1024 + 1])
        assert just_over.status_code == 413, just_over.text
        assert "20480" in just_over.json()["detail"]
        # Far above: refused while reading the request body.
        huge = await upload(client, account, b"\xff\xd8\xff" + b"\0" * (400 * 1024))
        assert huge.status_code == 413, huge.text


async def test_other_users_receipts_are_not_found_on_every_route(
    client: AppClient[Any], alice: Account, bob: Account
) -> None:
    receipt_id = (await upload(client, alice, png_bytes(42, 22))).json()["id"]
    for method, path in (
        ("GET", f"/api/v1/receipts/{receipt_id}"),
        ("GET", f"/api/v1/receipts/{receipt_id}/file"),
        ("POST", f"/api/v1/receipts/{receipt_id}/expense"),
        ("DELETE", f"/api/v1/receipts/{receipt_id}"),
        ("GET", f"/api/v1/receipts/{new_id()}"),
        ("DELETE", f"/api/v1/receipts/{new_id()}"),
    ):
        kwargs: dict[str, Any] = {"json": expense_body()} if method == "POST" else {}
        response = await client.request(method, path, headers=bob.headers, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["detail"] == "receipt not found"
    assert (await client.get("/api/v1/receipts", headers=bob.headers)).json()["items"] == []
    # Still there for its owner.
    response = await client.get(f"/api/v1/receipts/{receipt_id}", headers=alice.headers)
    assert response.status_code == 200
    unauthenticated = await client.get(f"/api/v1/receipts/{receipt_id}")
    assert unauthenticated.status_code == 401


async def test_listing_is_newest_first_paginated_and_searchable(
    client: AppClient[Any], alice: Account, bob: Account
) -> None:
    base = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    ids = []
    for index in range(5):
        row = await insert_receipt(
            client,
            alice,
            created_at=base + dt.timedelta(minutes=index),
            raw_text=f"Total {index}.00\nTHANK YOU {'Lavender Bakery' if index == 2 else ''}",
            merchant="Corner Shop" if index == 3 else None,
            status="failed" if index == 0 else "done",
        )
        ids.append(str(row.id))
    await insert_receipt(client, bob, raw_text="lavender bakery")

    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/receipts", params=params, headers=alice.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    async def search(**params: Any) -> list[str]:
        response = await client.get("/api/v1/receipts", params=params, headers=alice.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await search(q="LAVENDER bakery") == [ids[2]]  # raw text, case-insensitive
    assert await search(q="corner shop") == [ids[3]]  # merchant
    assert await search(q="100%") == []  # LIKE wildcards are literal
    assert await search(status="failed") == [ids[0]]
    nul = await client.get("/api/v1/receipts", params={"q": "a\x00b"}, headers=alice.headers)
    assert nul.status_code == 422, nul.text
    bad_cursor = await client.get(
        "/api/v1/receipts", params={"cursor": "not-a-cursor"}, headers=alice.headers
    )
    assert bad_cursor.status_code == 422


async def test_expense_from_receipt_uses_extracted_fields_and_links_both_ways(
    client: AppClient[Any], alice: Account
) -> None:
    receipt = await insert_receipt(
        client,
        alice,
        merchant="SAM SAM TRADING CO",
        receipt_date=dt.date(2017, 12, 29),
        total=Decimal("14.10"),
        currency="MYR",
        raw_text="SAM SAM TRADING CO\nTOTAL 14.10",
        confidence=SURE,
    )
    path = f"/api/v1/receipts/{receipt.id}/expense"
    response = await client.post(path, headers=alice.headers)
    assert response.status_code == 201, response.text
    expense = response.json()
    assert expense["amount"] == "14.10"
    assert expense["currency"] == "MYR"
    assert expense["occurred_on"] == "2017-12-29"
    assert expense["merchant"] == "SAM SAM TRADING CO"
    assert expense["receipt_id"] == str(receipt.id)

    linked = (await client.get(f"/api/v1/receipts/{receipt.id}", headers=alice.headers)).json()
    assert linked["expense_id"] == expense["id"]
    stored = await client.get(f"/api/v1/expenses/{expense['id']}", headers=alice.headers)
    assert stored.json()["receipt_id"] == str(receipt.id)

    again = await client.post(path, json={"amount": "1.00"}, headers=alice.headers)
    assert again.status_code == 409, again.text
    assert again.json()["expense_id"] == expense["id"]


async def test_overrides_win_and_missing_fields_are_named(
    client: AppClient[Any], alice: Account
) -> None:
    unread = await insert_receipt(client, alice, total=Decimal("7.50"), currency="EUR")
    path = f"/api/v1/receipts/{unread.id}/expense"
    response = await client.post(path, headers=alice.headers)
    assert response.status_code == 409, response.text
    assert {error["field"] for error in response.json()["errors"]} == {"occurred_on", "merchant"}
    assert "occurred_on" in response.json()["detail"]

    bad = await client.post(path, json={"amount": "-3"}, headers=alice.headers)
    assert bad.status_code == 422
    unknown = await client.post(path, json={"colour": "red"}, headers=alice.headers)
    assert unknown.status_code == 422
    nul = await client.post(path, json={"note": "a\x00b"}, headers=alice.headers)
    assert nul.status_code == 422, nul.text

    response = await client.post(
        path,
        json={
            "merchant": "Bakery Blum",
            "occurred_on": "2025-02-03",
            "amount": "8.20",
            "tags": ["breakfast"],
            "note": "croissants",
            "payment_method": "card",
        },
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    expense = response.json()
    assert (expense["merchant"], expense["amount"], expense["currency"]) == (
        "Bakery Blum",
        "8.20",
        "EUR",
    )
    assert expense["tags"] == ["breakfast"] and expense["payment_method"] == "card"
    receipt = await load_receipt(client, unread.id)
    assert receipt is not None and str(receipt.expense_id) == expense["id"]


async def test_expense_from_receipt_gets_usual_category_and_duplicate_hint(
    client: AppClient[Any], alice: Account
) -> None:
    category = await client.post(
        "/api/v1/categories", json={"name": "Stationery"}, headers=alice.headers
    )
    assert category.status_code == 201, category.text
    category_id = category.json()["id"]
    earlier = await client.post(
        "/api/v1/expenses",
        json=expense_body(
            merchant="Sam Sam Trading Co.",
            amount="14.10",
            currency="MYR",
            occurred_on="2017-12-29",
            category_id=category_id,
        ),
        headers=alice.headers,
    )
    assert earlier.status_code == 201, earlier.text
    receipt = await insert_receipt(
        client,
        alice,
        merchant="SAM SAM TRADING CO",
        receipt_date=dt.date(2017, 12, 29),
        total=Decimal("14.10"),
        currency="MYR",
        confidence=SURE,
    )
    response = await client.post(f"/api/v1/receipts/{receipt.id}/expense", headers=alice.headers)
    assert response.status_code == 201, response.text
    expense = response.json()
    assert expense["category_id"] == category_id
    assert expense["possible_duplicate_of"] == earlier.json()["id"]


async def test_delete_removes_object_and_row_and_unlinks_the_expense(
    client: AppClient[Any], alice: Account, base_env: dict[str, str]
) -> None:
    created = (await upload(client, alice, png_bytes(43, 23))).json()
    row = await load_receipt(client, created["id"])
    assert row is not None
    stored = Path(base_env["DATA_DIR"]) / "receipts" / row.storage_key
    assert stored.exists()
    expense = await client.post(
        f"/api/v1/receipts/{created['id']}/expense",
        json=expense_body(),
        headers=alice.headers,
    )
    assert expense.status_code == 201, expense.text

    response = await client.delete(f"/api/v1/receipts/{created['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert not stored.exists()
    gone = await client.get(f"/api/v1/receipts/{created['id']}", headers=alice.headers)
    assert gone.status_code == 404
    kept = await client.get(f"/api/v1/expenses/{expense.json()['id']}", headers=alice.headers)
    assert kept.status_code == 200
    assert kept.json()["receipt_id"] is None
    # The same file may be uploaded again once its receipt is gone.
    assert (await upload(client, alice, png_bytes(43, 23))).status_code == 202


async def test_a_receipt_that_needs_review_is_refused_naming_the_fields(
    client: AppClient[Any], alice: Account, bob: Account
) -> None:
    # The total was printed 9.00 and read 9.60 with a confidence of 0.63.
    receipt = await insert_receipt(
        client,
        alice,
        merchant="BOOK TA .K (TAMAN DAYA) SDN BHD",
        receipt_date=dt.date(2018, 12, 25),
        total=Decimal("9.60"),
        currency="MYR",
        confidence={**SURE, "total": 0.63},
    )
    shown = (await client.get(f"/api/v1/receipts/{receipt.id}", headers=alice.headers)).json()
    assert shown["extracted"]["needs_review"] is True
    assert shown["extracted"]["review_fields"] == ["amount"]

    path = f"/api/v1/receipts/{receipt.id}/expense"
    refused = await client.post(path, headers=alice.headers)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["review_fields"] == ["amount"]
    assert body["review"] == [{"field": "amount", "read": "9.60", "confidence": 0.63}]
    assert "amount" in body["detail"] and "confirm" in body["detail"]
    # Sending other fields does not answer the doubt; a wrong type for confirm is a 422.
    other = await client.post(path, json={"merchant": "Book Ta.K"}, headers=alice.headers)
    assert other.status_code == 409, other.text
    wrong = await client.post(path, json={"confirm": "yes"}, headers=alice.headers)
    assert wrong.status_code == 422, wrong.text
    # Another user gets the same 404 as for a missing receipt, confirm or not.
    for body_sent in (None, {"confirm": True}, {"amount": "9.00"}):
        stranger = await client.post(path, json=body_sent, headers=bob.headers)
        assert stranger.status_code == 404, stranger.text
    receipt_row = await load_receipt(client, receipt.id)
    assert receipt_row is not None and receipt_row.expense_id is None  # nothing written

    corrected = await client.post(path, json={"amount": "9.00"}, headers=alice.headers)
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["amount"] == "9.00"


async def test_confirm_takes_a_reading_that_needs_review_as_read(
    client: AppClient[Any], alice: Account
) -> None:
    receipt = await insert_receipt(
        client,
        alice,
        merchant="AEON CO. (M) BHD",
        receipt_date=dt.date(2018, 1, 5),
        total=Decimal("22.50"),
        currency="MYR",
        confidence={"merchant": 0.4, "date": 0.95, "total": 0.5},
    )
    path = f"/api/v1/receipts/{receipt.id}/expense"
    refused = await client.post(path, json={"amount": "22.50"}, headers=alice.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["review_fields"] == ["merchant"]

    confirmed = await client.post(path, json={"confirm": True}, headers=alice.headers)
    assert confirmed.status_code == 201, confirmed.text
    expense = confirmed.json()
    assert (expense["merchant"], expense["amount"], expense["occurred_on"]) == (
        "AEON CO. (M) BHD",
        "22.50",
        "2018-01-05",
    )
