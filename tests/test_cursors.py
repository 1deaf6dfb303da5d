"""Keyset cursors and page sizes as pure functions."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.exceptions import HTTPException

from expense_wise.api import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Cursor,
    decode_cursor,
    encode_cursor,
    page_size,
)

ROW = uuid.UUID("6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b")


def test_a_cursor_is_url_safe_unpadded_json_of_key_and_id():
    cursor = encode_cursor(dt.date(2024, 3, 1), ROW)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert raw == f'["2024-03-01","{ROW}"]'.encode()
    assert decode_cursor(cursor) == Cursor(key="2024-03-01", id=ROW)


@given(
    key=st.dates() | st.datetimes(timezones=st.just(dt.UTC)),
    row_id=st.uuids(),
)
def test_cursors_round_trip(key, row_id):
    assert decode_cursor(encode_cursor(key, row_id)) == Cursor(key=key.isoformat(), id=row_id)


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "",
        "not-base64!",
        base64.urlsafe_b64encode(b'["2024-03-01"]').decode(),  # no id
        base64.urlsafe_b64encode(b'["2024-03-01","not-a-uuid"]').decode(),
        base64.urlsafe_b64encode(b'{"key":"2024-03-01"}').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursors_are_a_422_naming_the_field(cursor):
    with pytest.raises(HTTPException) as raised:
        decode_cursor(cursor)
    assert raised.value.status_code == 422
    assert raised.value.detail == "cursor: invalid cursor"
    assert raised.value.extra == {"errors": [{"field": "cursor", "message": "invalid cursor"}]}


def test_page_size():
    assert page_size(None) == DEFAULT_PAGE_SIZE == 50
    assert page_size(1) == 1
    assert page_size(MAX_PAGE_SIZE) == MAX_PAGE_SIZE == 200
    for bad in (0, -1, MAX_PAGE_SIZE + 1):
        with pytest.raises(HTTPException) as raised:
            page_size(bad)
        assert raised.value.status_code == 422
        assert raised.value.detail == "limit: must be between 1 and 200"
