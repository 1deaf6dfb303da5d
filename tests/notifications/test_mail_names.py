"""The name given at registration goes into the verification mail sent to whatever address was
typed in: through a real SMTP server, it arrives without links, control or direction
characters, and capped in length."""

from __future__ import annotations

from typing import Any

import pytest

from expense_wise.domain.notifications.templates import MAX_NAME_IN_MAIL, name_for_mail
from tests.conftest import PASSWORD, SmtpServer, register, run_sql, run_worker_burst, running_app

LINKS = (
    "Your account is locked, verify at https://evil.example/login or www.evil.example "
    "or evil.example/x or (evil.co) or help@evil.example"
)


def check_mail(message: Any, greeting: str) -> None:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert text.splitlines()[0] == greeting
    assert len(greeting) <= len("Hello ,") + MAX_NAME_IN_MAIL
    for body in (text, html):
        assert "evil" not in body
        assert not any(char in body for char in "\u202e\u0007\u200b")


@pytest.mark.parametrize(
    ("name", "greeting"),
    [
        (f"Ada Lovelace. {LINKS}", "Hello Ada Lovelace. Your account is locked, v\u2026,"),
        ("https://evil.example/claim", "Hello,"),
        ("Zoë O'Brien-Smith", "Hello Zoë O'Brien-Smith,"),
    ],
)
async def test_the_registration_name_is_defused_in_the_mail(
    mail_env: dict[str, str], smtp_server: SmtpServer, name: str, greeting: str
) -> None:
    async with running_app(mail_env) as client:
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "victim@example.com", "password": PASSWORD, "name": name},
        )
        assert response.status_code == 201, response.text
        assert response.json()["name"] == name  # stored as given; only the mail is defused
        await run_worker_burst(mail_env)
        [message] = await smtp_server.wait_for(1)
    check_mail(message, greeting)


async def test_control_and_direction_characters_never_reach_the_mail(
    mail_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    """Set in the database directly, as a name stored before any input rule refused them."""
    async with running_app(mail_env) as client:
        account = await register(client, "victim@example.com")
        run_sql(
            mail_env,
            "UPDATE users SET name = %s WHERE id = %s",
            "Ada\u202e\u0007\u200b Love\r\nlace",
            account.id,
        )
        await run_worker_burst(mail_env)
        await smtp_server.wait_for(1)
        response = await client.post("/api/v1/me/verification-email", headers=account.headers)
        assert response.status_code == 202, response.text
        await run_worker_burst(mail_env)
        messages = await smtp_server.wait_for(2)
    check_mail(messages[-1], "Hello Ada Love lace,")


def test_names_without_links_are_kept() -> None:
    assert name_for_mail("J. R. R. Tolkien") == "J. R. R. Tolkien"
    assert name_for_mail("李小龍") == "李小龍"
    assert name_for_mail("Note: Ada") == "Note: Ada"
    assert name_for_mail("\u200b\u2066") is None
    assert name_for_mail(None) is None
