"""Fixtures for the monitoring tests: Debian's `prometheus` package (promtool and the server),
which scripts/test.sh installs when it is missing."""

from __future__ import annotations

import shutil

import pytest


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: apt-get install prometheus (scripts/test.sh does)")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return _tool("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return _tool("prometheus")
