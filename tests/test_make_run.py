"""`make run` installs only what serving needs; the tools come with `make test`."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

from tests.conftest import REPO_ROOT


def uv() -> str:
    return shutil.which("uv") or str(REPO_ROOT / ".tools" / "bin" / "uv")


def locked_names(*args: str) -> set[str]:
    exported = subprocess.run(
        [uv(), "export", "--frozen", "--no-hashes", "--no-emit-project", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return {
        line.split("==")[0].split("[")[0].strip().lower()
        for line in exported.splitlines()
        if line and not line.startswith(("#", " "))
    }


def test_make_run_syncs_the_runtime_dependencies_only():
    # Dry run, every step forced: the commands `make run` issues on a fresh checkout.
    plan = subprocess.run(
        ["make", "-n", "-B", "run", "UV=uv"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    [sync] = [line for line in plan.splitlines() if line.startswith("uv sync")]
    assert "--no-dev" in sync and "--frozen" in sync
    assert "--all-groups" not in sync and "--group" not in sync


def test_the_runtime_set_leaves_out_every_tool_group():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    runtime = locked_names("--no-dev")
    everything = locked_names("--all-groups")
    tools = {
        requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower()
        for group in ("dev", "infra")
        for requirement in project["dependency-groups"][group]
        if not requirement.startswith("#")
    }
    # httpx and PyYAML are runtime dependencies too (Litestar's); every other tool stays out.
    assert tools & runtime == {"httpx", "pyyaml"}
    assert {"pytest", "mypy", "moto", "playwright"} <= tools
    assert {"litestar", "jinja2", "uvicorn", "alembic"} <= runtime
    assert len(runtime) < len(everything) / 2
