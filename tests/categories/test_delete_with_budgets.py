"""A category with budgets is never deleted along with them: 409, or an explicit move."""

from __future__ import annotations

from tests.conftest import expense_body


async def _category(client, account, name):
    response = await client.post("/api/v1/categories", json={"name": name}, headers=account.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _budget(client, account, category_id):
    response = await client.post(
        "/api/v1/budgets",
        json={"amount": "100", "category_id": category_id},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_category_with_budgets_answers_409_with_the_counts(client, alice):
    coffee = await _category(client, alice, "Coffee")
    budget = await _budget(client, alice, coffee["id"])
    refused = await client.delete(f"/api/v1/categories/{coffee['id']}", headers=alice.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json() == {
        "status_code": 409,
        "detail": "category is used by 0 expenses and 1 budgets; "
        "pass ?reassign_to=<category id> to move them",
        "code": "category_in_use",
        "expenses": 0,
        "budgets": 1,
    }
    still = await client.get(f"/api/v1/budgets/{budget['id']}", headers=alice.headers)
    assert still.status_code == 200
    assert still.json()["category_id"] == coffee["id"]


async def test_reassigning_moves_expenses_and_budgets(client, alice):
    coffee = await _category(client, alice, "Coffee")
    drinks = await _category(client, alice, "Drinks")
    budget = await _budget(client, alice, coffee["id"])
    expense = await client.post(
        "/api/v1/expenses", json=expense_body(category_id=coffee["id"]), headers=alice.headers
    )
    refused = await client.delete(f"/api/v1/categories/{coffee['id']}", headers=alice.headers)
    assert refused.status_code == 409, refused.text
    assert (refused.json()["expenses"], refused.json()["budgets"]) == (1, 1)
    moved = await client.delete(
        f"/api/v1/categories/{coffee['id']}?reassign_to={drinks['id']}", headers=alice.headers
    )
    assert moved.status_code == 204, moved.text
    after = await client.get(f"/api/v1/budgets/{budget['id']}", headers=alice.headers)
    assert after.json()["category_id"] == drinks["id"]
    moved_expense = await client.get(
        f"/api/v1/expenses/{expense.json()['id']}", headers=alice.headers
    )
    assert moved_expense.json()["category_id"] == drinks["id"]


async def test_an_unused_category_is_deleted_and_others_budgets_do_not_count(client, alice, bob):
    alices = await _category(client, alice, "Coffee")
    bobs = await _category(client, bob, "Coffee")
    await _budget(client, bob, bobs["id"])
    deleted = await client.delete(f"/api/v1/categories/{alices['id']}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    # Bob cannot move his budgets into Alice's category either.
    other = await _category(client, alice, "Tea")
    refused = await client.delete(
        f"/api/v1/categories/{bobs['id']}?reassign_to={other['id']}", headers=bob.headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.json() == {
        "status_code": 409,
        "detail": "reassign_to: no such category",
        "errors": [{"field": "reassign_to", "message": "no such category"}],
    }
