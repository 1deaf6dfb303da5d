"""Seed data for bench/scale_bench.py: expenses and receipts written by PostgreSQL itself
(generate_series), so a million rows take a minute, not an hour.

The data looks like a real history: 5 years of expenses, 120 merchants (12 of them contain
"cafe"), 1 in 5 with a note that carries its number (so a number is a rare search hit), 0 to 2
of 12 tags, 6 in 7 with a category, some in USD and JPY. Receipts carry OCR-like text.
"""

from __future__ import annotations

import uuid

import psycopg

_PLACES = ["Corner", "Blue", "Golden", "Green", "Royal", "Little"]
_PLACES += ["Old Town", "Harbor", "City", "Sunny", "Central", "North"]
_KINDS = ["Cafe", "Bakery", "Market", "Pharmacy", "Books"]
_KINDS += ["Pizzeria", "Garage", "Cinema", "Grocer", "Hardware"]
MERCHANTS = [f"{place} {kind}" for place in _PLACES for kind in _KINDS]
TAGS = ["work", "family", "weekly", "travel", "gift", "health"]
TAGS += ["kids", "car", "home", "fun", "tax", "shared"]
NOTES = ["lunch with the team", "taxi to the airport", "birthday present", "monthly refill"]
NOTES += ["weekend trip", "repair", "school supplies", "dinner out"]
CATEGORY_NAMES = ["Dining", "Groceries", "Travel", "Health", "Home", "Fun", "Car", "Books"]

# Expenses number g of one user, for g in (start, start + count]. Amounts are integers of
# 1/10,000 (see expense_wise.db.types.Money); merchant_key is services.merchant_key() of the
# names, which have no punctuation.
EXPENSES_SQL = """
WITH categories_of_user AS (
    SELECT coalesce(array_agg(id ORDER BY name), '{}') AS ids
    FROM categories WHERE user_id = %(user_id)s
)
INSERT INTO expenses (
    id, user_id, amount, currency, occurred_on, merchant, merchant_key, category_id, note,
    tags, payment_method, created_at, updated_at
)
SELECT
    gen_random_uuid(),
    %(user_id)s,
    CASE WHEN g %% 50 = 0 THEN (1 + (g * 7919) %% 20000) * 10000
         ELSE (100 + (g * 7919) %% 30000) * 100 END,
    CASE WHEN g %% 50 = 0 THEN 'JPY' WHEN g %% 20 = 0 THEN 'USD' ELSE 'EUR' END,
    date '2025-12-31' - ((g * 104729) %% 1826)::int,
    merchant.name,
    lower(merchant.name),
    CASE WHEN g %% 7 = 0 OR cardinality(c.ids) = 0 THEN NULL
         ELSE c.ids[1 + g %% cardinality(c.ids)] END,
    CASE WHEN g %% 5 = 0 THEN (%(notes)s::text[])[1 + (g / 5) %% 8] || ' ' || g END,
    (CASE g %% 3
        WHEN 0 THEN '[]'
        WHEN 1 THEN '["' || (%(tags)s::text[])[1 + g %% 12] || '"]'
        ELSE '["' || (%(tags)s::text[])[1 + g %% 12] || '", "'
             || (%(tags)s::text[])[1 + (g %% 12 + 1 + (g / 3) %% 11) %% 12] || '"]'
     END)::json,
    (ARRAY['card', 'cash', 'transfer'])[1 + g %% 3],
    timestamptz '2026-01-01' - g * interval '1 minute',
    timestamptz '2026-01-01' - g * interval '1 minute'
FROM generate_series(%(start)s::bigint + 1, %(start)s::bigint + %(count)s) AS g
CROSS JOIN categories_of_user AS c
CROSS JOIN LATERAL (
    SELECT (%(merchants)s::text[])[1 + (g * 31) %% 120] AS name
) AS merchant
"""

RECEIPTS_SQL = """
INSERT INTO receipts (
    id, user_id, status, sha256, content_type, size, storage_key, attempts, merchant,
    receipt_date, total, currency, confidence, raw_text, created_at, updated_at
)
SELECT
    gen_random_uuid(), %(user_id)s, 'done',
    encode(sha256(convert_to(%(user_id)s::text || ':' || g, 'UTF8')), 'hex'),
    'image/png', 1000, 'bench/' || %(user_id)s || '/' || g, 1,
    merchant.name, date '2025-12-31' - (g %% 1826)::int, (100 + g %% 30000) * 100, 'EUR', '{}',
    upper(merchant.name) || E'\\n12 High Street\\nITEM ' || (g %% 97) || E'  4.20\\n'
        || 'TOTAL ' || (1 + g %% 300) || E'.00\\nCARD ****' || lpad((g %% 10000)::text, 4, '0')
        || E'\\nTHANK YOU RECEIPT ' || g,
    timestamptz '2026-01-01' - g * interval '1 hour',
    timestamptz '2026-01-01' - g * interval '1 hour'
FROM generate_series(%(start)s::bigint + 1, %(start)s::bigint + %(count)s) AS g
CROSS JOIN LATERAL (
    SELECT (%(merchants)s::text[])[1 + (g * 31) %% 120] AS name
) AS merchant
"""


def add_expenses(
    connection: psycopg.Connection[object], user_id: uuid.UUID, start: int, count: int
) -> None:
    """Expenses number start+1 .. start+count of the user."""
    connection.execute(
        EXPENSES_SQL,
        {
            "user_id": user_id,
            "start": start,
            "count": count,
            "merchants": MERCHANTS,
            "notes": NOTES,
            "tags": TAGS,
        },
    )


def add_receipts(
    connection: psycopg.Connection[object], user_id: uuid.UUID, start: int, count: int
) -> None:
    connection.execute(
        RECEIPTS_SQL,
        {"user_id": user_id, "start": start, "count": count, "merchants": MERCHANTS},
    )


def add_user(connection: psycopg.Connection[object], email: str) -> uuid.UUID:
    """A user who never logs in (no usable password), with the usual categories."""
    row = connection.execute(
        "INSERT INTO users (id, email, password_hash, name, default_currency, monthly_summary,"
        " created_at, updated_at) VALUES (gen_random_uuid(), %s, '!', 'Bench', 'EUR', false,"
        " now(), now()) RETURNING id",
        (email,),
    ).fetchone()
    assert row is not None
    user_id: uuid.UUID = row[0]
    add_categories(connection, user_id)
    return user_id


def add_categories(connection: psycopg.Connection[object], user_id: uuid.UUID) -> None:
    connection.execute(
        "INSERT INTO categories (id, user_id, name, name_key, created_at, updated_at)"
        " SELECT gen_random_uuid(), %s, name, lower(name), now(), now()"
        " FROM unnest(%s::text[]) AS name ON CONFLICT DO NOTHING",
        (user_id, CATEGORY_NAMES),
    )
