"""A request refused for its token is answered inside the middleware stack: it carries the
X-Request-ID, the request log records 401 (it recorded 500) and the metrics count a 401 (they
counted a 200), like every other answer."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from tests.conftest import Account


def requests_counted(path: str, status: int) -> float:
    labels = {"app_name": "expense-wise", "method": "GET", "path": path, "status_code": str(status)}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-jwt", "Bearer ewp_unknown", "Basic dXNlcjpwYXNz"],
)
async def test_a_refused_token_is_answered_like_any_other_request(
    client: AsyncTestClient[Any], authorization: str | None
) -> None:
    headers = {"X-Request-ID": "refused-123"}
    if authorization:
        headers["Authorization"] = authorization
    before = requests_counted("/api/v1/expenses", 401)
    response = await client.get("/api/v1/expenses", headers=headers)
    assert response.status_code == 401
    assert response.json()["status_code"] == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-request-id"] == "refused-123"
    assert requests_counted("/api/v1/expenses", 401) == before + 1


async def test_the_request_log_records_the_401(
    client: AsyncTestClient[Any], alice: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    from expense_wise.logging import configure_logging

    configure_logging("INFO", json_output=True)
    capsys.readouterr()
    await client.get("/api/v1/expenses", headers={"X-Request-ID": "log-me-401"})
    lines = [line for line in capsys.readouterr().err.splitlines() if "log-me-401" in line]
    assert lines and '"status": 401' in lines[-1], lines
