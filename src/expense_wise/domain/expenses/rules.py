"""Rules for expense values that every writer of expenses applies (the API, CSV import,
receipts, recurring expenses)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from expense_wise.errors import Invalid

_NON_WORD = re.compile(r"[^\w]+")
# The columns every writer of a new expense fills, whatever the source (request, receipt, CSV).
WRITTEN_COLUMNS = (
    "id",
    "user_id",
    "amount",
    "currency",
    "occurred_on",
    "merchant",
    "merchant_key",
    "category_id",
    "note",
    "tags",
    "payment_method",
)


def merchant_key(merchant: str) -> str:
    """Case, punctuation and spacing do not make two merchants different."""
    return " ".join(_NON_WORD.sub(" ", merchant.casefold()).split())[:200]


def clean_tags(tags: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = " ".join(tag.split())
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def checked_merchant(merchant: str) -> str:
    """The merchant without surrounding spaces; one that is only spaces is refused, not
    stored as ''."""
    cleaned = merchant.strip()
    if not cleaned:
        raise Invalid("merchant", "must not be blank")
    return cleaned
