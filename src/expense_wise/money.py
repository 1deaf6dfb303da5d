"""Currencies (ISO 4217) and exact decimal amounts."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec

from expense_wise.errors import Conflict, Invalid

# Active ISO 4217 codes. Minor-unit exceptions are listed below; every other code has 2.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    """.split()  # noqa: SIM905 - a table is easier to check than a list
)
_MINOR_UNITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(),  # noqa: SIM905
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in (0, 2, 3)}
MAX_AMOUNT = Decimal("1000000000")  # one billion: beyond any real expense, far below BIGINT


# The whole grammar of an amount: ASCII digits, then optionally a point and more digits
# ("12", "12.50"). Python's Decimal also reads "1_000", "1e2", " 12 ", "+5", ".5" and digits
# of other scripts ("١٢٣"); none of those is a way this API writes an amount, so none is read.
_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
AMOUNT_FORMAT = "must be a decimal number such as 12.50 (digits 0-9 and an optional point)"

# How requests spell an amount and a currency (expenses, budgets, recurring expenses).


CURRENCIES = sorted(ISO_4217)
ZERO_DECIMAL_CURRENCIES = sorted(code for code, places in _MINOR_UNITS.items() if places == 0)
THREE_DECIMAL_CURRENCIES = sorted(code for code, places in _MINOR_UNITS.items() if places == 3)


def amount_pattern(places: int) -> str:
    """The amounts `parse_amount` accepts in a currency with `places` decimals, as a regular
    expression (published in the API schema): plain digits, greater than 0, below
    MAX_AMOUNT, no more significant decimals than `places` (12.50 is 12.5)."""
    whole = "[1-9][0-9]{0,8}"
    if places == 0:
        return rf"^{whole}(?:\.0+)?$"
    # Below 1, a non-zero digit must come within the first `places` decimals.
    small = "|".join(
        f"{'0' * zeros}[1-9][0-9]{{0,{places - 1 - zeros}}}" for zeros in range(places)
    )
    return rf"^(?:{whole}(?:\.[0-9]{{1,{places}}}0*)?|0\.(?:{small})0*)$"


# Any currency's amount; each currency narrows it to its own decimals.
AMOUNT_PATTERN = amount_pattern(3)
# A filter bound such as min_amount: 0 or more, below MAX_AMOUNT, at most 4 decimals.
BOUND_PATTERN = r"^(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,4}0*)?$"


class AmountError(ValueError):
    pass


def _decimal(text: str) -> Decimal:
    """The Decimal of `text` if it follows the amount grammar (a leading minus allowed, so
    that a negative amount gets its own message); AmountError otherwise."""
    if _AMOUNT.fullmatch(text) is None:
        raise AmountError(AMOUNT_FORMAT)
    return Decimal(text)


def is_currency(code: str) -> bool:
    return code in ISO_4217


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def parse_amount(value: str | int | float | Decimal, currency: str) -> Decimal:
    """A positive amount with no more decimals than `currency` allows; AmountError otherwise.

    A JSON number is read through its shortest repr, so 12.5 means "12.5", not its binary
    value, and one whose repr needs an exponent (1e-05, 1e+20) is refused like the string.
    """
    if isinstance(value, bool):
        raise AmountError(AMOUNT_FORMAT)
    if isinstance(value, Decimal):  # already parsed (a stored amount, a receipt's total)
        amount = value
        if not amount.is_finite():
            raise AmountError(AMOUNT_FORMAT)
    else:
        amount = _decimal(repr(value) if isinstance(value, float) else str(value))
    if amount <= 0:
        raise AmountError("must be greater than 0")
    if amount >= MAX_AMOUNT:
        raise AmountError(f"must be less than {MAX_AMOUNT}")
    places = minor_units(currency)
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > places:
        raise AmountError(f"{currency} allows at most {places} decimal places")
    return amount


def parse_bound(value: str) -> Decimal:
    """A filter bound such as min_amount: a non-negative decimal with at most 4 places."""
    amount = _decimal(value)
    if amount < 0 or amount >= MAX_AMOUNT:
        raise AmountError(f"must be between 0 and {MAX_AMOUNT}")
    if amount != amount.quantize(Decimal("0.0001")):
        raise AmountError("must have at most 4 decimal places")
    return amount


def format_amount(amount: Decimal, currency: str) -> str:
    """'12.50' for EUR, '1200' for JPY: the currency's own number of decimals."""
    return str(amount.quantize(_QUANTUM[minor_units(currency)]))


def format_scaled(units: int, scale: int, currency: str) -> str:
    """format_amount for an amount stored as an integer of 10**-scale units, without the
    Decimal round trip (a page of expenses formats fifty of them)."""
    places = minor_units(currency)
    whole, fraction = divmod(units, 10**scale)
    step = 10 ** (scale - places)
    if units < 0 or fraction % step:  # not exact in the currency's decimals
        return format_amount(Decimal(units).scaleb(-scale), currency)
    if places == 0:
        return str(whole)
    return f"{whole}.{fraction // step:0{places}d}"


# --- The checks every domain applies to request values ------------------------------------


def checked_currency(currency: str, field: str = "currency") -> str:
    if not is_currency(currency):
        raise Invalid(field, f"{currency!r} is not an ISO 4217 currency code")
    return currency


def checked_amount(value: Any, currency: str, field: str = "amount") -> Decimal:
    try:
        return parse_amount(value, currency)
    except AmountError as error:
        raise Invalid(field, str(error)) from error


def changed_amount(
    amount: Decimal, currency: str, new_amount: Any, new_currency: Any
) -> tuple[Decimal, str]:
    """Amount and currency after a PATCH that may send either (msgspec.UNSET: not sent).
    When the body sends one and the stored other does not fit it (12.50 and JPY), the
    request conflicts with the resource (409), it is not invalid input."""
    currency_sent = new_currency is not msgspec.UNSET
    amount_sent = new_amount is not msgspec.UNSET
    currency = checked_currency(new_currency) if currency_sent else currency
    if amount_sent and currency_sent:
        return checked_amount(new_amount, currency), currency
    if not amount_sent and not currency_sent:
        return amount, currency
    value, field = (new_amount, "amount") if amount_sent else (amount, "currency")
    try:
        return parse_amount(value, currency), currency
    except AmountError as error:
        stored = "stored currency" if amount_sent else "stored amount"
        message = f"does not fit the {stored}: {error}"
        raise Conflict(
            f"{field}: {message}", errors=[{"field": field, "message": message}]
        ) from error


def checked_bound(value: str, field: str) -> Decimal:
    """A filter bound: any non-negative decimal the database can hold, whatever the currency."""
    try:
        return parse_bound(value)
    except AmountError as error:
        raise Invalid(field, str(error)) from error
