"""Helpers for the infrastructure tests (stdlib, PyYAML, python-hcl2, subprocess).

Two HCL parsers install under the module name ``hcl2``: python-hcl2 4.x returns plain
attribute values, checkov's bc-python-hcl2 wraps each attribute value in a one-item
list. ``hcl_attr`` reads an attribute either way so the tests do not care which won.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
hcl2 = pytest.importorskip("hcl2")

REPO = Path(__file__).resolve().parents[2]
# production-dr: production failed over to its disaster-recovery region.
OVERLAYS = ("staging", "production", "production-dr")


def unavailable(reason: str) -> None:
    """Skip a test whose tool or data is missing on a developer's machine, but fail it in CI
    (CI=true), where a silent skip would pass a check that never ran."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: the real check must run)", pytrace=False)
    pytest.skip(reason)


def require(tool: str) -> str:
    """The path of `tool` on PATH (or /usr/sbin), else unavailable()."""
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if found is None:
        unavailable(f"{tool} is not installed")
        raise AssertionError("unreachable")
    return found


def _parser_wraps_values() -> bool:
    return hcl2.loads("a = 1\n") == {"a": [1]}


WRAPPED = _parser_wraps_values()


def hcl_attr(block: dict[str, Any], name: str, default: Any = None) -> Any:
    """An attribute of a parsed HCL block, unwrapped for either parser."""
    if name not in block:
        return default
    value = block[name]
    return value[0] if WRAPPED and isinstance(value, list) and len(value) == 1 else value


def hcl_blocks(block: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, body) for every labelled sub-block `kind "label" { ... }`."""
    for entry in block.get(kind, []):
        yield from entry.items()


def hcl_block(block: dict[str, Any], kind: str) -> dict[str, Any]:
    """The single unlabelled sub-block `kind { ... }` ({} when absent)."""
    entries = block.get(kind, [])
    return entries[0] if entries else {}


def load_hcl(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle)


def nomad_files() -> list[Path]:
    return sorted((REPO / "nomad").glob("*.nomad.hcl"))


def terraform_files() -> list[Path]:
    return sorted((REPO / "terraform").rglob("*.tf"))


def kustomize_build(path: Path) -> list[dict[str, Any]]:
    if shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(path)]
    elif shutil.which("kustomize"):
        command = ["kustomize", "build", str(path)]
    else:
        pytest.skip("neither kubectl nor kustomize is on PATH")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
