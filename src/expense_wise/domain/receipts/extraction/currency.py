"""The currency: codes and symbols printed next to amounts."""

from __future__ import annotations

import re
from typing import Final

from expense_wise.domain.receipts.extraction.text import Line

# Currency symbols count only next to an amount: on a scan a lone "£" or "€" is usually noise.
_AMOUNT_AFTER: Final = r"\s?\d+[.,]\s?\d{2}"
_CURRENCY_MARKERS: Final = (
    # RM is often read as RH or RN in front of an amount.
    (re.compile(rf"\bRM(\b|(?=\d))|\bMYR\b|\(RM\)|RINGGIT|\bR[HN]{_AMOUNT_AFTER}"), "MYR"),
    (re.compile(rf"S\${_AMOUNT_AFTER}|\bSGD\b"), "SGD"),
    (re.compile(rf"US\${_AMOUNT_AFTER}|\bUSD\b"), "USD"),
    (re.compile(rf"€{_AMOUNT_AFTER}|\bEUR\b"), "EUR"),
    (re.compile(rf"£{_AMOUNT_AFTER}|\bGBP\b"), "GBP"),
    (re.compile(rf"\bIDR\b|\bRP{_AMOUNT_AFTER}"), "IDR"),
    (re.compile(rf"\bTHB\b|฿{_AMOUNT_AFTER}"), "THB"),
)


def find_currency(lines: list[Line]) -> tuple[str | None, float]:
    counts: dict[str, int] = {}
    for line in lines:
        for pattern, code in _CURRENCY_MARKERS:
            counts[code] = counts.get(code, 0) + len(pattern.findall(line.upper))
    seen = {code: n for code, n in counts.items() if n > 0}
    if not seen:
        return None, 0.0
    code = max(seen, key=lambda c: seen[c])
    return code, min(1.0, 0.5 + 0.15 * seen[code])
