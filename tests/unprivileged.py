"""Run a command as an ordinary user (``nobody``), the way most people run ``bench``.

Tests run as root in CI, and root writes anywhere: a path bug that puts files at the file-system
root, or a folder without write permission, goes unseen. This drops privileges with ``setpriv``.
When the interpreter lives under a folder ``nobody`` may not enter (pyenv under ``/root``, which is
0700), a private mount namespace (``unshare -m``) lays a world-readable tmpfs over that folder
and binds just the interpreter's tree back into it; nothing outside that namespace changes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

USER = "nobody"


def _uid_gid() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def _closed_ancestor(path: Path) -> tuple[Path, Path] | None:
    """The first folder above ``path`` that others may not enter, and its child on the way."""
    parts = path.resolve().parts
    for depth in range(1, len(parts)):
        folder = Path(*parts[:depth])
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return folder, Path(*parts[: depth + 1])
    return None


def home() -> Path:
    """A fresh folder owned by the ordinary user, under a world-enterable temp folder."""
    folder = Path(tempfile.mkdtemp(prefix="stylebench-user-", dir="/tmp"))
    os.chown(folder, *_uid_gid())
    folder.chmod(0o755)
    return folder


def command(argv: list[str], user_home: Path) -> list[str]:
    """``argv`` run as the ordinary user with ``user_home`` as HOME (skips where impossible)."""
    if os.geteuid() != 0:
        return argv
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is needed to drop root privileges")
    uid, gid = _uid_gid()
    drop = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]
    closed = _closed_ancestor(Path(sys.base_prefix))
    if closed is None:
        return drop
    if not shutil.which("unshare"):
        pytest.skip(f"{closed[0]} is closed to other users and unshare is missing")
    folder, child = closed
    parked = Path(tempfile.mkdtemp(prefix="parked-", dir=user_home.parent))  # gone with the test
    script = " && ".join(
        [
            f"mount --bind {shlex.quote(str(child))} {shlex.quote(str(parked))}",
            f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(folder))}",
            f"mkdir -p {shlex.quote(str(child))}",
            f"mount --bind {shlex.quote(str(parked))} {shlex.quote(str(child))}",
            'exec "$@"',
        ]
    )
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{folder} is closed to other users and mount namespaces are not allowed here")
    return ["unshare", "-m", "sh", "-c", script, "sh", *drop]


def environment(user_home: Path, **extra: str) -> dict[str, str]:
    """An environment for the ordinary user: its own HOME and caches, nothing of root's."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        "HOME": str(user_home),
        "STYLEBENCH_CACHE": str(user_home / "cache"),
        "TORCH_HOME": str(user_home / "torch"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
