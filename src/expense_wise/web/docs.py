"""The API documentation, served whole from the package: Swagger UI's files are vendored
(static/swagger-ui, by scripts/vendor-swagger-ui.sh at a pinned version), so the docs work
without internet and under a Content-Security-Policy that allows nothing from elsewhere."""

from __future__ import annotations

import html
from typing import Any

from litestar import Request, Router
from litestar.datastructures import ResponseHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.types import BeforeRequestHookHandler

from expense_wise.web.pages import DOCS_PATH, STATIC_PATH

DOCS_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        # Nothing inline and nothing from elsewhere (Swagger UI's icons are data: URLs in
        # its stylesheet); tests/web/test_docs.py fails on any violation.
        value="default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'none'; "
        "base-uri 'none'; frame-ancestors 'none'",
    ),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{static}/swagger-ui/favicon-32x32.png">
<link rel="stylesheet" href="{static}/swagger-ui/swagger-ui.css">
<script src="{static}/swagger-ui/swagger-ui-bundle.js" defer></script>
<script src="{static}/docs.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-url="{schema_url}"></div>
</body>
</html>
"""


class OfflineSwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI at /schema (and /schema/swagger, its former address)."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"])

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = str(openapi_schema.get("info", {}).get("title", "API"))
        return _PAGE.format(
            title=html.escape(title),
            static=STATIC_PATH,
            schema_url=html.escape(self.get_openapi_json_route(request)),
        ).encode()


def docs_router(before_request: BeforeRequestHookHandler | None = None) -> Router:
    """The router Litestar puts the documentation routes on, with their security headers;
    `before_request` runs before each (the app gives it the exact contract there)."""
    return Router(
        path=DOCS_PATH,
        route_handlers=[],
        include_in_schema=False,
        response_headers=DOCS_HEADERS,
        before_request=before_request,
    )
