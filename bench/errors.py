"""User-facing errors: the CLI prints their message (no traceback) and exits non-zero."""

from __future__ import annotations

import errno
import os


class BenchError(Exception):
    """Something the user can fix: the message names the file or key and says what to do."""

    exit_code = 2


class DiskError(BenchError):
    """A file cannot be written: no permission, a read-only file system, a full disk. Nothing
    written before is lost (files are replaced atomically, the journal is appended to)."""


#: What an errno of a full, read-only or forbidden disk means, and what the user can do.
_DISK_ERRORS = {
    errno.EACCES: ("permission denied", "choose a folder you can write with --out"),
    errno.EPERM: ("operation not permitted", "choose a folder you can write with --out"),
    errno.EROFS: ("read-only file system", "choose a writable folder with --out"),
    errno.ENOSPC: ("no space left on the device", "free some space"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or raise the quota"),
}


def disk_error(exc: OSError) -> DiskError | None:
    """The one-line user error for an `OSError` of a full, read-only or forbidden disk (None
    for any other): the file, the reason, what to do, and that a rerun resumes."""
    if exc.errno not in _DISK_ERRORS:
        return None
    reason, advice = _DISK_ERRORS[exc.errno]
    where = f"{os.path.normpath(exc.filename)}: " if exc.filename else ""
    return DiskError(
        f"{where}{reason}; {advice}, then run the same command again "
        "(a run resumes: finished cells are kept)"
    )
