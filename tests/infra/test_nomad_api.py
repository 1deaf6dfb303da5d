"""The Nomad paths of deploy.yml, rollback.yml and restore.yml against a fake Nomad HTTP API
that type-checks every request body against Nomad's API types (fake_nomad.py)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_nomad import FakeNomad, fake_nomad, parse_job
from infra_helpers import REPO, require
from tests.conftest import create_database, database_url

pytestmark = pytest.mark.infra

CLI = REPO / ".venv" / "bin" / "expense-wise"


@pytest.fixture
def nomad() -> Iterator[FakeNomad]:
    with fake_nomad() as server:
        yield server


def _playbook(nomad: FakeNomad, *args: str, env: dict[str, str] | None = None) -> str:
    playbook = str(REPO / ".venv" / "bin" / "ansible-playbook")
    if not Path(playbook).exists():
        playbook = require("ansible-playbook")
    result = subprocess.run(
        [
            playbook,
            "-i",
            "inventory/local",
            *args,
            "-e",
            "deploy_scheduler=nomad",
            "-e",
            f"nomad_jobs_addr={nomad.url}",
            "-e",
            f"expense_wise_app_nomad_addr={nomad.url}",
            "-e",
            f"expense_wise_cli_base_url={nomad.url}",
            "-e",
            "nomad_jobs_wait_retries=2",
        ],
        cwd=REPO,
        env={**os.environ, **(env or {}), "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert not nomad.errors, "\n".join(nomad.errors)
    assert not nomad.warnings, "\n".join(nomad.warnings)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result.stdout


def _job(nomad: FakeNomad, name: str, image_tag: str) -> dict:
    jobspec = (REPO / "nomad" / name).read_text()
    return parse_job({"JobHCL": jobspec, "Variables": f'image_tag = "{image_tag}"'})


def test_deploy_submits_well_typed_jobs(nomad: FakeNomad) -> None:
    _playbook(nomad, "playbooks/deploy.yml", "-e", "image_tag=3f2c1ab")
    for job_id in ("expense-wise-api", "expense-wise-worker", "expense-wise-migrate"):
        assert nomad.versions[job_id][-1]["Meta"]["image_tag"] == "3f2c1ab", job_id
    groups = nomad.versions["expense-wise-api"][-1]["TaskGroups"]
    assert [(g["Name"], g["Count"]) for g in groups] == [("api", 3)]
    assert nomad.posted("/v1/job/expense-wise-migrate/dispatch")
    for job_id in ("expense-wise-backup", "expense-wise-backup-verify", "expense-wise-restore"):
        assert job_id in nomad.versions


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # An auto-revert leaves [good, bad, good] newest first: "bad" must not come back.
        ([("old", True), ("good", True), ("bad", False), ("good", True)], "old"),
        ([("v1", True), ("v2", True)], "v1"),
    ],
)
def test_rollback_after_an_auto_revert_picks_the_previous_stable_tag(
    nomad: FakeNomad, history: list[tuple[str, bool]], expected: str
) -> None:
    for tag, stable in history:
        nomad.register(_job(nomad, "api.nomad.hcl", tag), stable=stable)
    output = _playbook(nomad, "playbooks/rollback.yml")
    assert nomad.versions["expense-wise-api"][-1]["Meta"]["image_tag"] == expected, output
    assert not nomad.posted("/v1/job/expense-wise-migrate/dispatch"), "rollback ran migrations"


def test_rollback_refuses_when_only_the_current_release_was_stable(nomad: FakeNomad) -> None:
    for tag, stable in (("good", True), ("bad", False), ("good", True)):
        nomad.register(_job(nomad, "api.nomad.hcl", tag), stable=stable)
    playbook = str(REPO / ".venv" / "bin" / "ansible-playbook")
    result = subprocess.run(
        [
            playbook,
            "-i",
            "inventory/local",
            "playbooks/rollback.yml",
            "-e",
            "deploy_scheduler=nomad",
            "-e",
            f"nomad_jobs_addr={nomad.url}",
        ],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode != 0
    assert "No previous image tag" in result.stdout
    assert len(nomad.versions["expense-wise-api"]) == 3, "something was deployed"


def test_restore_scales_to_zero_and_back_with_integer_counts(
    nomad: FakeNomad, tmp_path: Path
) -> None:
    nomad.register(_job(nomad, "api.nomad.hcl", "3f2c1ab"))
    nomad.register(_job(nomad, "worker.nomad.hcl", "3f2c1ab"))
    database = create_database("ew_nomad_restore")
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url(database),
        "DATA_DIR": str(tmp_path / "var"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "LOG_LEVEL": "WARNING",
    }
    full_env = {**os.environ, **env}
    full_env.pop("REDIS_URL", None)
    try:
        subprocess.run([str(CLI), "migrate"], env=full_env, check=True, capture_output=True)
        subprocess.run(
            [str(CLI), "backup", "create"], env=full_env, check=True, capture_output=True
        )
        _playbook(
            nomad,
            "playbooks/restore.yml",
            "-e",
            "backup_id=latest",
            "-e",
            "confirm_restore=yes",
            "-e",
            f"expense_wise_cli_command={CLI}",
            env=env,
        )
    finally:
        from tests.backups.conftest import drop_with_siblings

        drop_with_siblings(database)
    scaled = [
        (b["Target"]["Group"], b["Count"])
        for b in nomad.posted("/v1/job/")
        if "Target" in (b or {})
    ]
    assert scaled == [("worker", 0), ("api", 0), ("api", 3), ("worker", 2)]
