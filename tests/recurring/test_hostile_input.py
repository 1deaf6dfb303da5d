"""Date bounds on recurring templates."""

from __future__ import annotations

import pytest

DATE_RANGE = "must be between 1900-01-01 and 2999-12-31"


def template(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "amount": "9.99",
        "merchant": "Streaming",
        "frequency": "monthly",
        "starts_on": "2026-11-01",
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"starts_on": "9999-12-31"}, "starts_on"),
        ({"ends_on": "9999-12-31"}, "ends_on"),
        ({"ends_on": "3000-01-01"}, "ends_on"),
    ],
)
async def test_recurring_dates_outside_the_range_are_refused(client, alice, overrides, field):
    response = await client.post(
        "/api/v1/recurring-expenses", json=template(**overrides), headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "status_code": 422,
        "detail": f"{field}: {DATE_RANGE}",
        "errors": [{"field": field, "message": DATE_RANGE}],
    }


async def test_recurring_patch_outside_the_range_is_refused(client, alice):
    created = await client.post(
        "/api/v1/recurring-expenses", json=template(), headers=alice.headers
    )
    assert created.status_code == 201, created.text
    response = await client.patch(
        f"/api/v1/recurring-expenses/{created.json()['id']}",
        json={"ends_on": "9999-12-31"},
        headers=alice.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": "ends_on", "message": DATE_RANGE}]
