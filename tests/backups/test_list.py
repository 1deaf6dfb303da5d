"""`backup list`: newest first, --json, --check-age exit codes and Prometheus textfile."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from expense_wise.backup import manifest as mf
from expense_wise.backup.targets import DirectoryTarget
from tests.backups.conftest import run_cli
from tests.backups.test_prune import backup


def write(directory: Path, *manifests: mf.Manifest) -> None:
    target = DirectoryTarget(directory)
    for item in manifests:
        target.write_bytes(item.id + mf.MANIFEST_SUFFIX, mf.encode(item))


def hours_ago(hours: float) -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    return moment.replace(tzinfo=None).isoformat()


def test_lists_newest_first_with_verification(tmp_path: Path) -> None:
    write(tmp_path, backup(hours_ago(30), verified=True), backup(hours_ago(2)))
    env = {"APP_ENV": "test", "DATA_DIR": str(tmp_path / "var")}
    result = run_cli(env, "list", "--from", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [entry["verified"] for entry in entries] == [False, True]
    assert entries[0]["age_seconds"] < entries[1]["age_seconds"]
    table = run_cli(env, "list", "--from", str(tmp_path))
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "KIND", "AGE"]
    assert "yes" in lines[2] and "yes" not in lines[1]


def test_check_age_looks_at_the_newest_verified_backup(tmp_path: Path) -> None:
    env = {"APP_ENV": "test", "DATA_DIR": str(tmp_path / "var")}
    empty = run_cli(env, "list", "--from", str(tmp_path), "--check-age", "26h")
    assert empty.exit_code == 1
    assert "no verified backup" in empty.stderr

    write(tmp_path, backup(hours_ago(30), verified=True), backup(hours_ago(1)))
    stale = run_cli(env, "list", "--from", str(tmp_path), "--check-age", "26h")
    assert stale.exit_code == 1
    assert "limit 26h" in stale.stderr

    write(tmp_path, backup(hours_ago(3), verified=True))
    textfile = tmp_path / "backup.prom"
    fresh = run_cli(
        env, "list", "--from", str(tmp_path), "--check-age", "26h", "--textfile", str(textfile)
    )
    assert fresh.exit_code == 0, fresh.stderr
    metrics = textfile.read_text()
    assert "expense_wise_backup_count 3" in metrics
    assert "expense_wise_backup_newest_verified_timestamp_seconds 1" in metrics


def test_check_age_rejects_a_bad_duration(tmp_path: Path) -> None:
    env = {"APP_ENV": "test", "DATA_DIR": str(tmp_path / "var")}
    result = run_cli(env, "list", "--from", str(tmp_path), "--check-age", "soon")
    assert result.exit_code == 2


def test_prune_command_dry_run_then_delete(tmp_path: Path) -> None:
    env = {"APP_ENV": "test", "DATA_DIR": str(tmp_path / "var"), "BACKUP_KEEP_DAILY": "2"}
    backups = [backup(hours_ago(24 * days + 1)) for days in range(5)]
    write(tmp_path, *backups)
    dry = run_cli(env, "prune", "--keep-weekly", "0", "--keep-monthly", "0", "--from",
                  str(tmp_path), "--dry-run")  # fmt: skip
    assert dry.exit_code == 0, dry.stderr
    assert "dry run: 3 backups would be deleted, 2 kept" in dry.output
    assert len(list(tmp_path.glob("*.json"))) == 5

    done = run_cli(env, "prune", "--keep-weekly", "0", "--keep-monthly", "0", "--from",
                   str(tmp_path))  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert sorted(path.stem for path in tmp_path.glob("*.json")) == sorted(
        item.id for item in backups[:2]
    )
