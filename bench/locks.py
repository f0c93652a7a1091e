"""Advisory file locks that the OS releases when their holder dies (``fcntl.flock``).

A run folder has one writer at a time: a second ``bench run``, ``--resume`` or ``bench sync`` on
the same folder would compute every cell again and log every MLflow run twice. A fresh sqlite
MLflow store is created by one process at a time: MLflow's schema migration is not safe against
a second process migrating the same file. Neither lock outlives a killed holder, so a stale lock
never needs cleaning up by hand. (flock is local to a machine: two machines writing one run
folder on a network file system are not kept apart.)
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stylebench.errors import BenchError

RUN_LOCK = ".lock"


class FolderInUse(BenchError):
    """Another live process holds the run folder."""


@contextmanager
def exclusive(path: Path, wait: bool) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block, writing this
    process's PID into it. Without ``wait``, yields False at once when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield True
    finally:
        os.close(fd)


def holder(path: Path) -> str:
    """The PID written into a lock file by its holder, or 'unknown'."""
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@contextmanager
def run_folder(run_dir: Path) -> Iterator[None]:
    """Hold the run folder for one writer; a second writer stops at once (exit 2) naming the
    holder, before it computes or logs anything."""
    path = run_dir / RUN_LOCK
    with exclusive(path, wait=False) as held:
        if not held:
            raise FolderInUse(
                f"{run_dir} is being written by another bench process (PID {holder(path)}); "
                "wait for it to finish (or stop it), then run the same command again to "
                "compute whatever is still missing"
            )
        yield
