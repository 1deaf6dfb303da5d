"""The links in emails open pages that complete their flow in a browser, through the API."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, SmtpServer, free_port, live_server

NEW_PASSWORD = "Brand-New-Password-77"


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Service:
    def __init__(self, base: str, smtp: SmtpServer) -> None:
        self.base = base
        self.smtp = smtp

    def mailed_link(self, address: str, subject: str, timeout: float = 60.0) -> str:
        """The link of the newest mail to `address` with `subject`, read from its text part."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = [mail for mail in self.smtp.to(address) if mail["Subject"] == subject]
            if mails:
                text = mails[-1].get_body(("plain",)).get_content()
                match = re.search(r"https?://\S+\?token=\S+", text)
                assert match, text
                return match.group(0)
            time.sleep(0.1)
        raise AssertionError(f"no mail {subject!r} to {address} after {timeout} s")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The embedded default sending real mail to an aiosmtpd server; links point at it."""
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    env = {
        "APP_ENV": "test",
        "DATA_DIR": str(tmp_path_factory.mktemp("pages") / "var"),
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_MAX": "100000",
        "AUTH_RATE_LIMIT": "1000",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_FROM": "Expense-Wise <no-reply@example.com>",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    try:
        with live_server(env, port=port) as (base, _process):
            yield Service(base, smtp)
    finally:
        smtp.stop()


def test_the_verification_link_confirms_the_address(service, offline_page):
    email = "verify-page@example.com"
    assert (
        call(service.base, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})[
            0
        ]
        == 201
    )
    _, tokens = call(
        service.base, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD}
    )
    assert (
        call(service.base, "GET", "/api/v1/me", token=tokens["access_token"])[1]["email_verified"]
        is False
    )
    link = service.mailed_link(email, "Confirm your email address")
    assert link.startswith(f"{service.base}/verify-email?token=")

    page = offline_page.page
    answer = page.goto(link)
    assert answer.status == 200
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self';" in answer.headers["content-security-policy"]
    # Opening the link changes nothing (mail scanners open links too); the button does.
    assert (
        call(service.base, "GET", "/api/v1/me", token=tokens["access_token"])[1]["email_verified"]
        is False
    )
    page.get_by_role("button", name="Confirm my email address").click()
    page.get_by_role("status").wait_for(state="visible")
    assert "confirmed" in page.get_by_role("status").inner_text()
    assert (
        call(service.base, "GET", "/api/v1/me", token=tokens["access_token"])[1]["email_verified"]
        is True
    )

    page.goto(link)  # a second use is refused, and the page says why
    page.get_by_role("button", name="Confirm my email address").click()
    page.get_by_role("alert").wait_for(state="visible")
    assert "already used" in page.get_by_role("alert").inner_text()
    assert offline_page.blocked == [] and offline_page.problems == []


def test_the_reset_link_sets_a_new_password(service, offline_page):
    email = "reset-page@example.com"
    assert (
        call(service.base, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})[
            0
        ]
        == 201
    )
    assert call(service.base, "POST", "/api/v1/auth/password-reset", {"email": email})[0] == 202
    link = service.mailed_link(email, "Reset your password")
    assert link.startswith(f"{service.base}/reset-password?token=")

    page = offline_page.page
    page.goto(link)
    submit = page.get_by_role("button", name="Set the new password")
    alert = page.get_by_role("alert")
    # The API's own rules answer, shown on the page; the token survives a refused password.
    page.get_by_label("New password").fill("too-short")
    page.get_by_label("The same password again").fill("too-short")
    submit.click()
    alert.wait_for(state="visible")
    assert "at least 10 characters" in alert.inner_text()
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("The same password again").fill(NEW_PASSWORD + "x")
    submit.click()
    page.wait_for_function(
        "document.querySelector('[role=alert]').textContent.includes('not the same')"
    )
    page.get_by_label("The same password again").fill(NEW_PASSWORD)
    submit.click()
    page.get_by_role("status").wait_for(state="visible")
    assert "password is changed" in page.get_by_role("status").inner_text()
    assert page.url == link  # the password never travels in the address

    assert (
        call(
            service.base, "POST", "/api/v1/auth/login", {"email": email, "password": NEW_PASSWORD}
        )[0]
        == 200
    )
    assert (
        call(service.base, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})[0]
        == 401
    )
    assert offline_page.blocked == [] and offline_page.problems == []


def test_a_link_without_its_token_says_so(service, offline_page):
    page = offline_page.page
    for path in ("/verify-email", "/reset-password"):
        page.goto(service.base + path)
        assert "link is incomplete" in page.inner_text("main")
        assert page.locator("form").count() == 0


def test_the_token_is_carried_as_text_never_as_markup(service, offline_page):
    page = offline_page.page
    hostile = '"><script>document.title="owned"</script>'
    page.goto(f"{service.base}/reset-password?" + urllib.parse.urlencode({"token": hostile}))
    assert page.locator("input[name=token]").input_value() == hostile
    assert page.title() != "owned"
    assert offline_page.problems == []
