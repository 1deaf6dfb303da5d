"""CSV import parsing as a pure function: every row checked, errors named by row and field."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from expense_wise.domain.expenses.csv_io import ParsedRow, _unquote, parse_csv
from expense_wise.domain.expenses.schemas import ImportRowError
from expense_wise.money import AMOUNT_FORMAT

HEADER = "date,amount,currency,merchant,category,tags,note,payment_method,id\n"


def parse(text: str, *, currency: str = "EUR", max_rows: int = 100):
    return parse_csv(text.encode(), currency, max_rows)


def errors_of(text: str, **kwargs) -> list[tuple[int, str, str]]:
    _, errors = parse(text, **kwargs)
    return [(error.row, error.field, error.message) for error in errors]


def content_key(fields: list[str], occurrence: int) -> str:
    return hashlib.sha256(f"{chr(0x1F).join(fields)}\x1e{occurrence}".encode()).hexdigest()


def test_a_full_row():
    row_id = "6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b"
    rows, errors = parse(
        HEADER + f"2024-03-01,12.50,USD,Bakery,Food,a;b; a ;,lunch,card,{row_id.upper()}\n"
    )
    assert errors == []
    assert rows == [
        ParsedRow(
            occurred_on=dt.date(2024, 3, 1),
            amount=Decimal("12.50"),
            currency="USD",
            merchant="Bakery",
            category="Food",
            tags=["a", "b"],
            note="lunch",
            payment_method="card",
            import_key=row_id,  # the id, normalised
        )
    ]


def test_minimal_rows_take_the_fallback_currency_and_a_content_key():
    rows, errors = parse(
        "date,amount,merchant\n2024-03-01, 5 ,Deli\n\n2024-03-01,5,Deli\n2024-03-02,5,Deli\n",
        currency="JPY",
    )
    assert errors == []
    assert [(row.occurred_on, row.amount, row.currency, row.merchant) for row in rows] == [
        (dt.date(2024, 3, 1), Decimal("5"), "JPY", "Deli"),
        (dt.date(2024, 3, 1), Decimal("5"), "JPY", "Deli"),
        (dt.date(2024, 3, 2), Decimal("5"), "JPY", "Deli"),
    ]
    assert all(
        (row.category, row.tags, row.note, row.payment_method) == (None, [], None, None)
        for row in rows
    )
    fields = ["2024-03-01", "5", "JPY", "Deli", "", "", "", ""]
    # Two identical rows are two expenses: the occurrence number is part of the key.
    assert rows[0].import_key == content_key(fields, 1)
    assert rows[1].import_key == content_key(fields, 2)
    assert rows[2].import_key == content_key(["2024-03-02", *fields[1:]], 1)


def test_the_content_key_covers_every_field():
    rows, _ = parse(HEADER + "2024-03-01,5,EUR,Deli,Food,a;b,note,cash,\n")
    fields = ["2024-03-01", "5", "EUR", "Deli", "Food", "a;b", "note", "cash"]
    assert rows[0].import_key == content_key(fields, 1)


def test_a_utf8_bom_and_spaces_around_header_names_are_accepted():
    rows, errors = parse_csv(
        "\ufeff date , amount,merchant\n2024-03-01,1,Café\n".encode(), "EUR", 10
    )
    assert errors == [] and rows[0].merchant == "Café"


def test_exported_formula_guards_are_taken_off_once():
    rows, errors = parse(HEADER + "2024-03-01,1,EUR,'=SUM(A1),'+cat,'-x;'@y;'z,''q,'\tp,\n")
    assert errors == []
    row = rows[0]
    assert (row.merchant, row.category, row.tags, row.note, row.payment_method) == (
        "=SUM(A1)",
        "+cat",
        ["-x", "@y", "'z"],
        "'q",
        "\tp",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("'=1", "=1"), ("''x", "'x"), ("'x", "'x"), ("'", "'"), ("", ""), ("=1", "=1"), ("a'", "a'")],
)
def test_unquote(value, expected):
    assert _unquote(value) == expected


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("date,amount,merchant,amount", "duplicate columns: amount"),
        ("date,amount", "missing columns: merchant"),
        ("amount", "missing columns: date, merchant"),
        ("date,amount,merchant,colour,size", "unknown columns: colour, size"),
        (
            "date,date,merchant,extra",
            "duplicate columns: date; missing columns: amount; unknown columns: extra",
        ),
        ("", "missing columns: amount, date, merchant"),
    ],
)
def test_header_problems(header, message):
    assert errors_of(header + "\n2024-01-01,1,A\n") == [(1, "header", message)]


def test_an_empty_file_is_a_header_problem():
    assert errors_of("") == [(1, "header", "missing columns: amount, date, merchant")]


def test_not_utf8():
    assert parse_csv(b"date,amount,merchant\n\xff\n", "EUR", 10) == (
        [],
        [ImportRowError(row=0, field="file", message="must be UTF-8 text")],
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2024-02-30,1,EUR,A,,,,,", [("date", "must be a date as YYYY-MM-DD")]),
        ("2024-01-01,1,EURO,A,,,,,", [("currency", "'EURO' is not an ISO 4217 currency code")]),
        ("2024-01-01,1,eur,A,,,,,", [("currency", "'eur' is not an ISO 4217 currency code")]),
        ("2024-01-01,-1,EUR,A,,,,,", [("amount", "must be greater than 0")]),
        ("2024-01-01,1.5,JPY,A,,,,,", [("amount", "JPY allows at most 0 decimal places")]),
        # An unknown currency's amount is still checked (as EUR), so both are reported.
        (
            "2024-01-01,1.555,XXX,A,,,,,",
            [
                ("currency", "'XXX' is not an ISO 4217 currency code"),
                ("amount", "EUR allows at most 2 decimal places"),
            ],
        ),
        ("2024-01-01,1,EUR,,,,,,", [("merchant", "is required")]),
        (
            "2024-01-01,1,EUR," + "m" * 201 + ",,,,,",
            [("merchant", "must be at most 200 characters")],
        ),
        (
            "2024-01-01,1,EUR,A,," + ";".join(f"t{n}" for n in range(21)) + ",,,",
            [("tags", "at most 20 tags of at most 50 characters, without commas")],
        ),
        (
            "2024-01-01,1,EUR,A,," + "t" * 51 + ",,,",
            [("tags", "at most 20 tags of at most 50 characters, without commas")],
        ),
        (
            '2024-01-01,1,EUR,A,,"a,b",,,',
            [("tags", "at most 20 tags of at most 50 characters, without commas")],
        ),
        (
            "2024-01-01,1,EUR,A,,," + "n" * 2001 + ",,",
            [("note", "must be at most 2000 characters")],
        ),
        (
            "2024-01-01,1,EUR,A,,,," + "p" * 51 + ",",
            [("payment_method", "must be at most 50 characters")],
        ),
        (
            "2024-01-01,1,EUR,A," + "c" * 101 + ",,,,",
            [("category", "must be at most 100 characters")],
        ),
        ("2024-01-01,1,EUR,A,,,,,not-a-uuid", [("id", "must be a UUID")]),
        (
            "2024-13-01,0,ZZZ,,,,,,x",
            [
                ("date", "must be a date as YYYY-MM-DD"),
                ("currency", "'ZZZ' is not an ISO 4217 currency code"),
                ("amount", "must be greater than 0"),
                ("merchant", "is required"),
                ("id", "must be a UUID"),
            ],
        ),
    ],
)
def test_row_errors_name_row_and_field(line, expected):
    assert errors_of(HEADER + line + "\n") == [(2, field, message) for field, message in expected]


def test_limits_are_inclusive():
    line = (
        "2024-01-01,1,EUR,"
        + "m" * 200
        + ","
        + "c" * 100
        + ","
        + ";".join("t" * 50 for _ in range(20)).replace("t" * 50, "", 0)
        + ","
        + "n" * 2000
        + ","
        + "p" * 50
        + ",\n"
    )
    tags = ";".join(f"{n:02d}" + "t" * 48 for n in range(20))
    line = line.replace(";".join("t" * 50 for _ in range(20)), tags)
    rows, errors = parse(HEADER + line)
    assert errors == []
    assert len(rows[0].tags) == 20 and len(rows[0].merchant) == 200


def test_nul_characters_are_refused_before_anything_else():
    assert errors_of("date,amount,merchant,note\n2024-13-01,x,A\x00,\x00\n") == [
        (2, "merchant", "must not contain NUL characters"),
        (2, "note", "must not contain NUL characters"),
    ]


def test_every_bad_row_is_reported_with_its_spreadsheet_number():
    text = "date,amount,merchant\n2024-01-01,1,A\n\n2024-01-02,x,B\n2024-01-03,1,C,extra\n"
    assert errors_of(text) == [
        (4, "amount", AMOUNT_FORMAT),
        (5, "row", "more values than columns"),
    ]


def test_fewer_values_than_columns_leave_the_rest_empty():
    rows, errors = parse(HEADER + "2024-01-01,1,EUR,A\n")
    assert errors == [] and rows[0].note is None


def test_the_row_cap():
    body = "".join(f"2024-01-{day:02d},1,A\n" for day in range(1, 4))
    rows, errors = parse("date,amount,merchant\n" + body, max_rows=3)
    assert errors == [] and len(rows) == 3
    rows, errors = parse("date,amount,merchant\n" + body + "2024-01-09,1,A\n", max_rows=3)
    assert errors == [
        ImportRowError(row=5, field="file", message="more than 3 rows; split the file")
    ]


def test_malformed_csv_is_reported_at_the_record_after_the_last_good_one():
    assert errors_of('date,amount,merchant\n2024-01-01,1,"A"x\n') == [
        (2, "file", "malformed CSV: ',' expected after '\"'")
    ]
    assert errors_of('date,amount,merchant\n2024-01-01,1,A\n2024-01-02,2,"B\n') == [
        (3, "file", "malformed CSV: unexpected end of data")
    ]
