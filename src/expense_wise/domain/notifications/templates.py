"""The text of every email we send, as plain text and as HTML (values escaped)."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# Longest account name quoted in a mail; registration accepts up to 200 characters.
MAX_NAME_IN_MAIL = 40
# Words that a mail client could turn into a link: a URL, www.*, an address, a domain name.
_LINK_LIKE = re.compile(
    r"://|^\W*(?:mailto|tel|sms|data|javascript):|www\.|@|[\w-]\.[a-z]{2,}\b", re.IGNORECASE
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _page(title: str, paragraphs: Sequence[str]) -> str:
    """`paragraphs` are already-escaped HTML fragments."""
    body = "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f'<body style="font-family: sans-serif; line-height: 1.5">\n{body}\n'
        '<p style="color: #777">Expense-Wise</p>\n</body></html>\n'
    )


def _link(url: str) -> str:
    escaped = html.escape(url)
    return f'<a href="{escaped}">{escaped}</a>'


def name_for_mail(name: str | None) -> str | None:
    """An account name as a mail may quote it. Anyone can register any address with any
    name, so the name must not carry a link, a control or direction-override character, or a
    paragraph of text into a mail the service sends to that address."""
    if not name:
        return None
    visible = "".join(
        " " if unicodedata.category(char).startswith(("C", "Z")) else char for char in name
    )
    words = [word for word in visible.split() if not _LINK_LIKE.search(word)]
    cleaned = " ".join(words)
    if len(cleaned) > MAX_NAME_IN_MAIL:
        cleaned = cleaned[: MAX_NAME_IN_MAIL - 1].rstrip() + "\u2026"
    return cleaned or None


def verify_email(name: str | None, link: str, token: str, valid_hours: int) -> RenderedEmail:
    shown = name_for_mail(name)
    greeting = f"Hello {shown}," if shown else "Hello,"
    subject = "Confirm your email address"
    text = (
        f"{greeting}\n\n"
        "please confirm the email address of your new Expense-Wise account by opening this "
        "link:\n\n"
        f"{link}\n\n"
        f"or by sending this code to POST /api/v1/auth/verify: {token}\n\n"
        f"The link works once and expires in {valid_hours} hours. If you did not create an "
        "account, ignore this message.\n"
    )
    return RenderedEmail(
        subject,
        text,
        _page(
            subject,
            [
                html.escape(greeting),
                "Please confirm the email address of your new Expense-Wise account:",
                _link(link),
                f"Code: <code>{html.escape(token)}</code>",
                f"The link works once and expires in {valid_hours} hours. If you did not create "
                "an account, ignore this message.",
            ],
        ),
    )


def password_reset(link: str, token: str, valid_minutes: int) -> RenderedEmail:
    subject = "Reset your password"
    text = (
        "Hello,\n\n"
        "someone (hopefully you) asked to reset the password of your Expense-Wise account. "
        "Choose a new password here:\n\n"
        f"{link}\n\n"
        f"or send this code with the new password to POST /api/v1/auth/password-reset/confirm: "
        f"{token}\n\n"
        f"The link works once and expires in {valid_minutes} minutes. Resetting signs out every "
        "session. If you did not ask for this, ignore this message; your password stays as it is.\n"
    )
    return RenderedEmail(
        subject,
        text,
        _page(
            subject,
            [
                "Someone (hopefully you) asked to reset the password of your Expense-Wise "
                "account. Choose a new password here:",
                _link(link),
                f"Code: <code>{html.escape(token)}</code>",
                f"The link works once and expires in {valid_minutes} minutes. Resetting signs "
                "out every session. If you did not ask for this, ignore this message.",
            ],
        ),
    )


def budget_alert(
    budget_name: str, month: str, threshold: int, spent: str, amount: str, currency: str
) -> RenderedEmail:
    subject = f"Budget alert: {threshold}% of {budget_name} reached for {month}"
    summary = (
        f"You have spent {spent} {currency} of your {amount} {currency} budget for "
        f"{budget_name} in {month}, which reaches the {threshold}% alert you set."
    )
    text = f"Hello,\n\n{summary}\n"
    return RenderedEmail(subject, text, _page(subject, [html.escape(summary)]))


@dataclass(frozen=True)
class SummaryLine:
    label: str
    currency: str
    total: str
    count: int


def monthly_summary(
    month: str, totals: Sequence[SummaryLine], categories: Sequence[SummaryLine], unsubscribe: str
) -> RenderedEmail:
    subject = f"Your spending in {month}"
    total_lines = [
        f"{line.total} {line.currency} in {line.count} expense{'' if line.count == 1 else 's'}"
        for line in totals
    ]
    category_lines = [
        f"{line.label}: {line.total} {line.currency} ({line.count})" for line in categories
    ]
    text = (
        f"Hello,\n\nyour spending in {month}:\n\n"
        + "\n".join(f"  Total: {line}" for line in total_lines)
        + "\n\nBy category:\n\n"
        + "\n".join(f"  {line}" for line in category_lines)
        + f"\n\n{unsubscribe}\n"
    )
    rows = "".join(
        f"<tr><td>{html.escape(line.label)}</td><td>{line.count}</td>"
        f'<td style="text-align: right">{html.escape(line.total)} {line.currency}</td></tr>'
        for line in categories
    )
    return RenderedEmail(
        subject,
        text,
        _page(
            subject,
            [
                *(f"<strong>Total: {html.escape(line)}</strong>" for line in total_lines),
                f"<table><tr><th>Category</th><th>Expenses</th><th>Amount</th></tr>{rows}</table>",
                html.escape(unsubscribe),
            ],
        ),
    )
