"""Keyset cursors and page sizes as pure functions."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.exceptions import HTTPException

from expense_wise.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Cursor,
    decode_cursor,
    encode_cursor,
    page_size,
)

ROW = uuid.UUID("6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b")


def test_a_cursor_is_the_key_as_a_number_dot_the_id_in_hex():
    day = dt.date(2024, 3, 1)
    assert encode_cursor(day, ROW) == f"{day.toordinal()}.{ROW.hex}"
    moment = dt.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=dt.UTC)
    assert encode_cursor(moment, ROW) == f"1000005.{ROW.hex}"
    assert decode_cursor(f"{day.toordinal()}.{ROW.hex}") == Cursor(key=day.toordinal(), id=ROW)


@given(key=st.dates(), row_id=st.uuids())
def test_date_cursors_round_trip(key, row_id):
    cursor = decode_cursor(encode_cursor(key, row_id))
    assert (cursor.date, cursor.id) == (key, row_id)


@given(
    key=st.datetimes(min_value=dt.datetime(1970, 1, 1), timezones=st.just(dt.UTC)),
    row_id=st.uuids(),
)
def test_datetime_cursors_round_trip(key, row_id):
    cursor = decode_cursor(encode_cursor(key, row_id))
    assert (cursor.datetime, cursor.id) == (key, row_id)


def test_keys_out_of_range_are_clamped_not_refused():
    assert decode_cursor(f"0.{ROW.hex}").date == dt.date.min
    assert decode_cursor(f"{'9' * 18}.{ROW.hex}").date == dt.date.max
    latest = decode_cursor(f"{'9' * 18}.{ROW.hex}").datetime
    assert latest == dt.datetime.max.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "cursor",
    ["", "%%%", "12", f"12.{ROW}", f"12.{ROW.hex}0", f"-1.{ROW.hex}", f"{'9' * 19}.{ROW.hex}"],
)
def test_bad_cursors_are_a_422_naming_the_field(cursor):
    message = "must be a next_cursor value from an earlier page"
    with pytest.raises(HTTPException) as raised:
        decode_cursor(cursor)
    assert raised.value.status_code == 422
    assert raised.value.detail == f"cursor: {message}"
    assert raised.value.extra == {"errors": [{"field": "cursor", "message": message}]}


def test_page_size():
    assert page_size(None) == DEFAULT_PAGE_SIZE == 50
    assert page_size(1) == 1
    assert page_size(MAX_PAGE_SIZE) == MAX_PAGE_SIZE == 200
    for bad in (0, -1, MAX_PAGE_SIZE + 1):
        with pytest.raises(HTTPException) as raised:
            page_size(bad)
        assert raised.value.status_code == 422
        assert raised.value.detail == "limit: must be between 1 and 200"
