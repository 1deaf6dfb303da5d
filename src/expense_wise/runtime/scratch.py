"""A temporary directory per worker process, under a known root, swept at the next start.

The worker's own code writes no temporary files (Tesseract reads the image on stdin and
answers on stdout), but libraries and child processes may, and a worker killed by the OOM
killer or SIGKILL cleans nothing up. So each worker points TMPDIR (inherited by Tesseract
and every other child) and Python's tempfile at `<tmp>/expense-wise-worker/<pid>`, and
every worker removes, when it starts, the directories of processes that no longer run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ROOT_NAME = "expense-wise-worker"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def claim_scratch_dir(base: Path | None = None) -> tuple[Path, list[Path]]:
    """Make this process's scratch directory the temporary directory of it and its
    children; returns it and the leftover directories that were removed."""
    root = (base or Path(tempfile.gettempdir())) / ROOT_NAME
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    me = os.getpid()
    removed = []
    for entry in root.iterdir():
        pid = int(entry.name) if entry.name.isdigit() else None
        # Our own pid's directory is a predecessor's too (a container's worker is always
        # pid 1, and /tmp may outlive the container).
        if pid is None or pid == me or not _running(pid):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    mine = root / str(me)
    mine.mkdir(mode=0o700)
    os.environ["TMPDIR"] = str(mine)
    tempfile.tempdir = None  # tempfile caches its choice; look at TMPDIR again
    return mine, removed
