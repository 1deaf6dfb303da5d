"""Server-rendered pages behind the links in emails. Each completes its flow by posting to
the public API, as another front end would (FRONTEND_URL points the links at one)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from litestar import Controller, Router, get
from litestar.datastructures import ResponseHeader
from litestar.params import Parameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

WEB_DIR = Path(__file__).parent
STATIC_PATH = "/static"
DOCS_PATH = "/schema"

# Scripts, styles and API calls from this origin only; nothing inline. The mailed token is in
# the page's URL: no Referer carries it anywhere, and no cache keeps the page.
PAGE_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="Cache-Control", value="no-store"),
]

# The mailed token as it arrives; the API judges it (the page only carries it along).
LinkToken = Annotated[str | None, Parameter(max_length=200)]


class EmailLinkPages(Controller):
    include_in_schema = False
    response_headers = PAGE_HEADERS

    @get("/verify-email", name="verify-email-page")
    async def verify_email(self, token: LinkToken = None) -> Template:
        # A button, not a GET that verifies: mail scanners open links before people do.
        return Template("verify-email.html", context={"token": token or ""})

    @get("/reset-password", name="reset-password-page")
    async def reset_password(self, token: LinkToken = None) -> Template:
        return Template("reset-password.html", context={"token": token or ""})


@get("/", include_in_schema=False)
async def root() -> Redirect:
    """The service's address leads a newcomer to the API documentation."""
    return Redirect(path=DOCS_PATH)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=WEB_DIR / "templates", engine=JinjaTemplateEngine)


def static_files() -> Router:
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[WEB_DIR / "static"],
        include_in_schema=False,
    )
