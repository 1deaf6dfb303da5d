"""Temporary files of a killed worker are removed when a worker starts again: each worker
process has its own TMPDIR under `<tmp>/expense-wise-worker/`, inherited by Tesseract and
every other child."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from expense_wise.runtime.scratch import ROOT_NAME
from tests.conftest import WorkerProcess


def unused_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_a_killed_workers_temporary_files_are_removed_at_the_next_start(
    base_env: dict[str, str],
    tmp_path: Path,
    start_worker: Callable[[dict[str, str]], WorkerProcess],
) -> None:
    scratch = tmp_path / "tmp"
    root = scratch / ROOT_NAME
    leftover = root / str(unused_pid())
    leftover.mkdir(parents=True)
    (leftover / "tess_1a2b.bmp").write_bytes(b"\0" * 4096)  # what a killed OCR run left
    env = {**base_env, "TMPDIR": str(scratch)}

    first = start_worker(env)
    assert first.process is not None
    assert not leftover.exists()
    own = root / str(first.process.pid)
    assert own.is_dir()
    (own / "render-7f.tmp").write_bytes(b"\0" * 4096)  # a library's file, mid-job
    first.kill()  # SIGKILL: nothing is cleaned up by the dying process
    assert (own / "render-7f.tmp").exists()

    second = start_worker(env)
    assert second.process is not None
    assert not own.exists()
    assert [path.name for path in root.iterdir()] == [str(second.process.pid)]


def test_the_scratch_directory_is_this_process_temporary_directory(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import tempfile, subprocess, os\n"
        "from pathlib import Path\n"
        "from expense_wise.runtime.scratch import claim_scratch_dir\n"
        "mine, _ = claim_scratch_dir()\n"
        "assert Path(tempfile.mkdtemp()).parent == mine\n"
        "child = subprocess.run(['sh', '-c', 'echo $TMPDIR'], capture_output=True, text=True)\n"
        "assert child.stdout.strip() == str(mine), child.stdout\n"
        "print(mine)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(done.stdout.strip()).parent == tmp_path / ROOT_NAME
