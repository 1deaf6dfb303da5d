"""Money parsing and formatting: pure functions, no server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expense_wise.errors import Invalid
from expense_wise.money import (
    AMOUNT_FORMAT,
    ISO_4217,
    AmountError,
    checked_amount,
    checked_bound,
    checked_currency,
    format_amount,
    format_scaled,
    is_currency,
    minor_units,
    parse_amount,
    parse_bound,
)


def test_currencies_are_iso_4217_codes():
    assert is_currency("EUR") and is_currency("JPY") and is_currency("KWD")
    assert not is_currency("eur")
    assert not is_currency("XYZ")
    assert not is_currency("")
    assert len(ISO_4217) == 155  # catches a code dropped or mangled in the table


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        *[("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("XPF", 0), ("BIF", 0), ("VUV", 0)],
        *[("KWD", 3), ("BHD", 3), ("IQD", 3), ("JOD", 3), ("LYD", 3), ("OMR", 3), ("TND", 3)],
    ],
)
def test_minor_units(currency, places):
    assert minor_units(currency) == places


def test_every_zero_and_three_decimal_currency():
    zero = sorted(code for code in ISO_4217 if minor_units(code) == 0)
    three = sorted(code for code in ISO_4217 if minor_units(code) == 3)
    assert zero == sorted(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
    )
    assert three == ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("12.50", "EUR", Decimal("12.50")),
        (12.5, "EUR", Decimal("12.5")),
        (0.1, "EUR", Decimal("0.1")),  # the float's repr, not its binary value
        (3, "EUR", Decimal("3")),
        (Decimal("1.234"), "KWD", Decimal("1.234")),
        ("1200", "JPY", Decimal("1200")),
        ("1200.00", "JPY", Decimal("1200")),  # trailing zeros are not decimals
        ("0.01", "EUR", Decimal("0.01")),
        ("0.001", "KWD", Decimal("0.001")),
        ("1", "JPY", Decimal("1")),
        ("999999999.99", "EUR", Decimal("999999999.99")),
        ("999999999", "JPY", Decimal("999999999")),
    ],
)
def test_parse_amount_accepts(value, currency, expected):
    parsed = parse_amount(value, currency)
    assert parsed == expected
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        (True, "EUR", AMOUNT_FORMAT),
        (False, "EUR", AMOUNT_FORMAT),
        ("abc", "EUR", AMOUNT_FORMAT),
        ("", "EUR", AMOUNT_FORMAT),
        (" 7 ", "EUR", AMOUNT_FORMAT),
        ("1_000", "EUR", AMOUNT_FORMAT),
        ("+5", "EUR", AMOUNT_FORMAT),
        (".5", "EUR", AMOUNT_FORMAT),
        ("5.", "EUR", AMOUNT_FORMAT),
        ("1E+2", "JPY", AMOUNT_FORMAT),
        ("\u0661\u0662", "EUR", AMOUNT_FORMAT),  # Arabic-Indic digits
        ("NaN", "EUR", AMOUNT_FORMAT),
        ("Infinity", "EUR", AMOUNT_FORMAT),
        (float("inf"), "EUR", AMOUNT_FORMAT),
        (1e-05, "EUR", AMOUNT_FORMAT),  # its repr needs an exponent
        (Decimal("NaN"), "EUR", AMOUNT_FORMAT),
        (Decimal("Infinity"), "EUR", AMOUNT_FORMAT),
        ("0", "EUR", "must be greater than 0"),
        ("0.00", "EUR", "must be greater than 0"),
        ("-0.01", "EUR", "must be greater than 0"),
        (-3, "EUR", "must be greater than 0"),
        (Decimal("-1"), "EUR", "must be greater than 0"),
        ("1000000000", "EUR", "must be less than 1000000000"),
        ("1000000000.00", "EUR", "must be less than 1000000000"),
        (Decimal("1E+12"), "EUR", "must be less than 1000000000"),
        ("12.345", "EUR", "EUR allows at most 2 decimal places"),
        ("0.001", "EUR", "EUR allows at most 2 decimal places"),
        ("1.5", "JPY", "JPY allows at most 0 decimal places"),
        ("1.2345", "KWD", "KWD allows at most 3 decimal places"),
    ],
)
def test_parse_amount_refuses(value, currency, message):
    with pytest.raises(AmountError) as raised:
        parse_amount(value, currency)
    assert str(raised.value) == message


def test_amount_error_is_a_value_error():
    assert issubclass(AmountError, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", Decimal("0")),
        ("6", Decimal("6")),
        ("10.5", Decimal("10.5")),
        ("0.0001", Decimal("0.0001")),
        ("999999999.9999", Decimal("999999999.9999")),
    ],
)
def test_parse_bound_accepts(value, expected):
    assert parse_bound(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", AMOUNT_FORMAT),
        ("", AMOUNT_FORMAT),
        (" 6", AMOUNT_FORMAT),
        ("inf", AMOUNT_FORMAT),
        ("NaN", AMOUNT_FORMAT),
        ("1e10", AMOUNT_FORMAT),
        ("-1", "must be between 0 and 1000000000"),
        ("-0.0001", "must be between 0 and 1000000000"),
        ("1000000000", "must be between 0 and 1000000000"),
        ("1000000000.5", "must be between 0 and 1000000000"),
        ("0.00001", "must have at most 4 decimal places"),
        ("1.23456", "must have at most 4 decimal places"),
    ],
)
def test_parse_bound_refuses(value, message):
    with pytest.raises(AmountError) as raised:
        parse_bound(value)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("12.5"), "EUR", "12.50"),
        (Decimal("12"), "EUR", "12.00"),
        (Decimal("0.1"), "USD", "0.10"),
        (Decimal("1200"), "JPY", "1200"),
        (Decimal("1.2"), "KWD", "1.200"),
        (Decimal("999999999.99"), "EUR", "999999999.99"),
    ],
)
def test_format_amount_uses_the_currencys_decimals(amount, currency, expected):
    assert format_amount(amount, currency) == expected


@pytest.mark.parametrize(
    ("units", "scale", "currency", "expected"),
    [
        (125000, 4, "EUR", "12.50"),
        (10000, 4, "EUR", "1.00"),
        (100, 4, "EUR", "0.01"),
        (12000000, 4, "JPY", "1200"),
        (12340, 4, "KWD", "1.234"),
        (9999999999900, 4, "EUR", "999999999.99"),
        (1250, 2, "EUR", "12.50"),
        (7, 0, "JPY", "7"),
        # Not exact in the currency's decimals, or negative: the Decimal path rounds.
        (125050, 4, "EUR", "12.50"),
        (125150, 4, "EUR", "12.52"),
        (-125000, 4, "EUR", "-12.50"),
        (12005000, 4, "JPY", "1200"),
    ],
)
def test_format_scaled(units, scale, currency, expected):
    assert format_scaled(units, scale, currency) == expected


@given(
    units=st.integers(min_value=0, max_value=10**13),
    currency=st.sampled_from(["EUR", "JPY", "KWD", "USD", "BHD", "CLP"]),
)
def test_format_scaled_agrees_with_format_amount(units, currency):
    assert format_scaled(units, 4, currency) == format_amount(Decimal(units).scaleb(-4), currency)


@given(
    cents=st.integers(min_value=1, max_value=99_999_999_999),
    currency=st.sampled_from(["EUR", "USD", "GBP"]),
)
def test_parse_then_format_round_trips(cents, currency):
    text = f"{cents // 100}.{cents % 100:02d}"
    assert format_amount(parse_amount(text, currency), currency) == text


def test_format_scaled_skips_the_decimal_round_trip_for_exact_amounts(monkeypatch):
    from expense_wise import money

    def no_round_trip(amount, currency):
        raise AssertionError("format_amount called for an exact amount")

    monkeypatch.setattr(money, "format_amount", no_round_trip)
    assert format_scaled(125000, 4, "EUR") == "12.50"
    assert format_scaled(0, 4, "EUR") == "0.00"
    assert format_scaled(12000000, 4, "JPY") == "1200"
    assert format_scaled(12340, 4, "KWD") == "1.234"


def test_checked_amount_and_bound_name_the_field():
    assert checked_amount("12.50", "EUR") == Decimal("12.50")
    assert checked_bound("0", "min_amount") == Decimal("0")
    with pytest.raises(Invalid) as raised:
        checked_amount("1.5", "JPY")
    assert (raised.value.field, raised.value.message) == (
        "amount",
        "JPY allows at most 0 decimal places",
    )
    with pytest.raises(Invalid) as raised:
        checked_amount("0", "EUR", field="total")
    assert (raised.value.field, raised.value.message) == ("total", "must be greater than 0")
    with pytest.raises(Invalid) as raised:
        checked_bound("-1", "max_amount")
    assert (raised.value.field, raised.value.message) == (
        "max_amount",
        "must be between 0 and 1000000000",
    )


def test_checked_currency_names_the_field():
    assert checked_currency("JPY") == "JPY"
    with pytest.raises(Invalid) as raised:
        checked_currency("EURO")
    assert (raised.value.field, raised.value.message) == (
        "currency",
        "'EURO' is not an ISO 4217 currency code",
    )
    with pytest.raises(Invalid) as raised:
        checked_currency("xyz", field="default_currency")
    assert (raised.value.field, raised.value.message) == (
        "default_currency",
        "'xyz' is not an ISO 4217 currency code",
    )
