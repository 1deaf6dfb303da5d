"""Fixtures for the infrastructure tests; the helpers live in infra_helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from infra_helpers import OVERLAYS, REPO, kustomize_build


@pytest.fixture(scope="session")
def overlays() -> dict[str, list[dict[str, Any]]]:
    return {name: kustomize_build(REPO / "k8s" / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="session")
def find() -> Callable[..., list[dict[str, Any]]]:
    def _find(
        docs: list[dict[str, Any]], kind: str, name: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
        ]

    return _find
