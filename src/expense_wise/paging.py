"""Keyset paging shared by the list endpoints: cursors and the page size."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.params import QueryParameter

from expense_wise.api import PATTERN_MESSAGES, described_pattern, field_error

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


# A keyset position: the sort key of the previous page's last row as an integer (a date's
# ordinal, or microseconds since 1970 in UTC) and its id. Every string of this form is a
# valid position (keys out of range are clamped), so the schema states exactly what is
# accepted.
CURSOR_PATTERN = described_pattern(
    r"^[0-9]{1,18}\.[0-9a-f]{32}$", "must be a next_cursor value from an earlier page"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_MICROSECONDS = (dt.datetime.max.replace(tzinfo=dt.UTC) - _EPOCH) // dt.timedelta(
    microseconds=1
)


class Cursor(msgspec.Struct, frozen=True):
    key: int
    id: uuid.UUID

    @property
    def date(self) -> dt.date:
        return dt.date.fromordinal(min(max(self.key, 1), dt.date.max.toordinal()))

    @property
    def datetime(self) -> dt.datetime:
        microseconds = min(self.key, _MAX_MICROSECONDS)
        return _EPOCH + dt.timedelta(microseconds=microseconds)


def encode_cursor(key: dt.date | dt.datetime, row_id: uuid.UUID) -> str:
    if isinstance(key, dt.datetime):
        number = (key.astimezone(dt.UTC) - _EPOCH) // dt.timedelta(microseconds=1)
    else:
        number = key.toordinal()
    return f"{number}.{row_id.hex}"


def decode_cursor(cursor: str) -> Cursor:
    """The position of a cursor that matched CURSOR_PATTERN (the query parameter's)."""
    if not re.match(CURSOR_PATTERN, cursor):
        raise field_error("cursor", PATTERN_MESSAGES[repr(CURSOR_PATTERN)])
    key, _, row_id = cursor.partition(".")
    return Cursor(key=int(key), id=uuid.UUID(hex=row_id))


def page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise field_error("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    return limit


_DIGITS = re.compile(r"[0-9]+")


def provide_page_size(
    request: Request[Any, Any, Any],
    limit: Annotated[
        int | None,
        QueryParameter(
            name="limit",
            ge=1,
            le=MAX_PAGE_SIZE,
            description=f"Items per page, digits 0-9 only (default {DEFAULT_PAGE_SIZE})",
        ),
    ] = None,
) -> int:
    """The page size of every list endpoint (dependency `page_limit`).

    Litestar converts query integers leniently ("1e2" is 100); the documented grammar is
    plain ASCII digits, so the raw text is checked too."""
    raw = request.query_params.get("limit")
    if raw is not None and _DIGITS.fullmatch(raw) is None:
        raise field_error("limit", "must be a whole number in digits 0-9, such as 50")
    return page_size(limit)
