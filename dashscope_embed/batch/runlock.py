"""One run of a remote job at a time: an exclusive lock on ``OUTPUT.batch-state.json.lock`` for the whole run.

Two runs of the same job on the same ``OUTPUT`` would read the same state, submit the same rows twice (billed
twice) and delete each other's files. ``RemoteJob.run`` holds the lock (``fcntl.flock``, released by the kernel
when the process dies, so a ``kill -9`` leaves no stale lock); a second run fails at once. ``batch status`` and
``batch cancel`` do not take it: they must work while the job runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import BatchJobError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs are not serialised there (documented as unsupported)
    fcntl = None  # type: ignore[assignment]

__all__ = ["job_lock", "lock_path_for"]


def lock_path_for(state_path: Path) -> Path:
    """``OUTPUT.batch-state.json.lock`` beside the state file."""
    return state_path.with_name(state_path.name + ".lock")


@contextmanager
def job_lock(state_path: Path) -> Iterator[None]:
    """Hold the job's run lock (beside ``state_path``) while the block runs; the lock file holds this pid.

    Raises:
        BatchJobError: another process (or another run in this one) holds it; names its pid when known.
    """
    if fcntl is None:
        yield
        return
    path = lock_path_for(state_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise BatchJobError(
                f"another run of this job is in progress (pid {holder or 'unknown'}, lock {path}): wait for it to "
                "end, or follow it with `dashscope-embed batch status`"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file after we opened it: lock the current one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        # unlinked before the lock is released, so a waiting run re-checks the inode and locks a fresh file
        path.unlink(missing_ok=True)
        os.close(fd)
