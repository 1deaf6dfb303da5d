"""A headless browser for the pages and docs: Playwright driving Debian's chromium (installed
by scripts/test.sh); Playwright never downloads a browser of its own here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import missing_data


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    missing_data("Debian's chromium is not installed (scripts/test.sh installs it)")


# Per module, not per session: sync Playwright keeps an event loop running in this thread
# while it is open, which the async tests' loop cannot share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield browser
        finally:
            browser.close()


class OfflinePage:
    """A page whose browser reaches only 127.0.0.1 and that records what it was refused:
    requests elsewhere, Content-Security-Policy violations and script errors."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context()
        self.blocked: list[str] = []
        self.problems: list[str] = []
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("console", self._console)

    def _only_local(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _console(self, message: Any) -> None:
        # Answers with an error status are logged too; those are the API speaking, not a fault.
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.problems.append(message.text)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def offline_page(browser: Any) -> Iterator[OfflinePage]:
    page = OfflinePage(browser)
    try:
        yield page
    finally:
        page.close()
