"""METRICS_PORT: `serve` answers /metrics on a port of its own (which the ingress does not
route to) and no longer on the API's port, with one server process or several."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from expense_wise.settings import SettingsError, load_settings
from tests.conftest import free_port, live_server, wait_for_http


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_are_served_on_their_own_port_only(
    sqlite_env: dict[str, str], workers: str
) -> None:
    metrics_port = free_port()
    env = {**sqlite_env, "METRICS_PORT": str(metrics_port)}
    with live_server(env, "--workers", workers) as (base, _process):
        for _ in range(3):
            assert get(f"{base}/health")[0] == 200
        assert get(f"{base}/metrics")[0] == 404
        wait_for_http(f"http://127.0.0.1:{metrics_port}/metrics")
        status, text = get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200
        assert 'http_requests_total{app_name="expense-wise"' in text
        assert 'path="/health"' in text


def test_without_metrics_port_the_api_port_serves_metrics(sqlite_env: dict[str, str]) -> None:
    with live_server(sqlite_env) as (base, _process):
        assert get(f"{base}/health")[0] == 200
        status, text = get(f"{base}/metrics")
        assert status == 200 and "http_requests_total" in text


def test_metrics_port_must_differ_from_the_api_port() -> None:
    assert load_settings({"METRICS_PORT": "9100"}).server.metrics_port == 9100
    with pytest.raises(SettingsError, match="METRICS_PORT=8000: must differ from PORT"):
        load_settings({"METRICS_PORT": "8000"})
