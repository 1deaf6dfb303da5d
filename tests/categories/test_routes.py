from __future__ import annotations

import uuid

from tests.conftest import expense_body


async def _category(client, account, name):
    response = await client.post("/api/v1/categories", json={"name": name}, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_update_and_list(client, alice):
    created = await _category(client, alice, "Coffee")
    assert created["color"] is None
    updated = await client.patch(
        f"/api/v1/categories/{created['id']}", json={"color": "#112233"}, headers=alice.headers
    )
    assert updated.status_code == 200
    assert updated.json() == {**created, "color": "#112233"}
    names = [
        c["name"] for c in (await client.get("/api/v1/categories", headers=alice.headers)).json()
    ]
    assert "Coffee" in names


async def test_names_are_unique_per_user_ignoring_case(client, alice, bob):
    await _category(client, alice, "Coffee")
    duplicate = await client.post(
        "/api/v1/categories", json={"name": "  coffee "}, headers=alice.headers
    )
    assert duplicate.status_code == 409
    await _category(client, bob, "Coffee")  # another user may use the same name
    other = await _category(client, alice, "Tea")
    rename = await client.patch(
        f"/api/v1/categories/{other['id']}", json={"name": "COFFEE"}, headers=alice.headers
    )
    assert rename.status_code == 409


async def test_invalid_bodies_are_422(client, alice):
    for body in ({"name": ""}, {"name": "x", "color": "red"}, {"name": "x" * 101}):
        response = await client.post("/api/v1/categories", json=body, headers=alice.headers)
        assert response.status_code == 422, body


async def test_delete_in_use_needs_reassignment(client, alice):
    coffee = await _category(client, alice, "Coffee")
    drinks = await _category(client, alice, "Drinks")
    expense = (
        await client.post(
            "/api/v1/expenses", json=expense_body(category_id=coffee["id"]), headers=alice.headers
        )
    ).json()
    refused = await client.delete(f"/api/v1/categories/{coffee['id']}", headers=alice.headers)
    assert refused.status_code == 409
    assert refused.json()["expenses"] == 1
    to_itself = await client.delete(
        f"/api/v1/categories/{coffee['id']}?reassign_to={coffee['id']}", headers=alice.headers
    )
    assert to_itself.status_code == 409
    moved = await client.delete(
        f"/api/v1/categories/{coffee['id']}?reassign_to={drinks['id']}", headers=alice.headers
    )
    assert moved.status_code == 204
    after = await client.get(f"/api/v1/expenses/{expense['id']}", headers=alice.headers)
    assert after.json()["category_id"] == drinks["id"]


async def test_unused_category_deletes(client, alice):
    spare = await _category(client, alice, "Spare")
    assert (
        await client.delete(f"/api/v1/categories/{spare['id']}", headers=alice.headers)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/categories/{spare['id']}", headers=alice.headers)
    ).status_code == 404


async def test_other_users_categories_are_404(client, alice, bob):
    mine = await _category(client, alice, "Private")
    for method, kwargs in (
        ("patch", {"json": {"name": "Stolen"}}),
        ("delete", {}),
    ):
        response = await getattr(client, method)(
            f"/api/v1/categories/{mine['id']}", headers=bob.headers, **kwargs
        )
        assert response.status_code == 404
    # Bob cannot file an expense under Alice's category, nor reassign into it.
    response = await client.post(
        "/api/v1/expenses", json=expense_body(category_id=mine["id"]), headers=bob.headers
    )
    assert response.status_code == 409
    # Bob cannot move his expenses into Alice's category when deleting his own.
    bobs = await _category(client, bob, "Bobs")
    bobs_expense = await client.post(
        "/api/v1/expenses", json=expense_body(category_id=bobs["id"]), headers=bob.headers
    )
    assert bobs_expense.status_code == 201
    response = await client.delete(
        f"/api/v1/categories/{bobs['id']}?reassign_to={mine['id']}", headers=bob.headers
    )
    assert response.status_code == 409
    assert response.json()["errors"] == [{"field": "reassign_to", "message": "no such category"}]
    kept = await client.get(f"/api/v1/expenses/{bobs_expense.json()['id']}", headers=bob.headers)
    assert kept.json()["category_id"] == bobs["id"]
    listed = await client.get("/api/v1/categories", headers=bob.headers)
    assert bobs["id"] in [item["id"] for item in listed.json()]
    # An unused category is deleted without looking at the target.
    spare = await _category(client, bob, "Spare")
    response = await client.delete(
        f"/api/v1/categories/{spare['id']}?reassign_to={mine['id']}", headers=bob.headers
    )
    assert response.status_code == 204
    missing = await client.patch(
        f"/api/v1/categories/{uuid.uuid4()}", json={"name": "x"}, headers=alice.headers
    )
    assert missing.status_code == 404
