"""The API documentation works offline: every asset comes from this service."""

from __future__ import annotations

import json
import urllib.request

from tests.conftest import live_server

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def test_the_docs_render_every_operation_with_no_network(sqlite_env, offline_page):
    with live_server(sqlite_env) as (base, _process):
        with urllib.request.urlopen(f"{base}/schema/openapi.json", timeout=10) as response:
            schema = json.loads(response.read())
        operations = [
            operation
            for path_item in schema["paths"].values()
            for method, operation in path_item.items()
            if method in HTTP_METHODS
        ]
        page = offline_page.page
        answer = page.goto(f"{base}/")  # the service's address leads to the docs
        assert page.url == f"{base}/schema"
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self';" in policy
        page.wait_for_selector(".opblock", timeout=60_000)
        rendered = page.locator(".opblock")
        # Swagger UI shows an operation once under each of its tags.
        assert rendered.count() == sum(len(op.get("tags") or ["default"]) for op in operations)
        page.locator("#operations-expenses-createExpense").click()
        page.wait_for_selector("#operations-expenses-createExpense .opblock-body")
        assert page.locator("#operations-expenses-createExpense").get_by_text("merchant").count()
        swagger = page.goto(f"{base}/schema/swagger")
        assert swagger.status == 200
        page.wait_for_selector(".opblock", timeout=60_000)
    assert offline_page.blocked == []
    assert offline_page.problems == []
