"""Field types that the request schemas of several domains share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from expense_wise.api import described_pattern
from expense_wise.money import AMOUNT_PATTERN, CURRENCIES

# PostgreSQL text cannot hold NUL; refused at the edge with a message that says so.
NO_NUL = described_pattern(r"^[^\x00]*$", "must not contain NUL characters")
# A name: something other than spaces, and no NUL.
NOT_BLANK = described_pattern(
    r"^[^\x00]*[^\s\x00][^\x00]*$", "must not be blank or contain NUL characters"
)
# The years of dates.EARLIEST_DATE to LATEST_DATE, as the schema states them (the services
# check the range, with dates.DATE_RANGE_MESSAGE).
DATE_RANGE_PATTERN = r"^(?:19[0-9]{2}|2[0-9]{3})-"
Day = Annotated[dt.date, msgspec.Meta(extra_json_schema={"pattern": DATE_RANGE_PATTERN})]
EMAIL_PATTERN = described_pattern(
    r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$", "must be an email address such as ada@example.com"
)

AMOUNT_MESSAGE = (
    "must be a decimal number greater than 0 and less than 1000000000 such as 12.50 (digits "
    "0-9 and an optional point), with no more decimals than the currency has"
)
AmountInput = Annotated[
    str,
    msgspec.Meta(
        pattern=described_pattern(AMOUNT_PATTERN, AMOUNT_MESSAGE),
        description="Decimal amount greater than 0, as a string, with no more decimals than "
        "the currency has (0 for JPY, 3 for KWD, 2 for most)",
        examples=["12.50"],
    ),
]
Currency = Annotated[
    str,
    msgspec.Meta(
        pattern=described_pattern(r"^[A-Z]{3}$", "must be an ISO 4217 code such as EUR"),
        examples=["EUR"],
        extra_json_schema={"enum": CURRENCIES},
    ),
]
