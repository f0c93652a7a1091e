"""The one way stylebench writes a file: readers see the old file or the new one, never a mix.

A leaf module (standard library only) so that every package may use it: ``methods/`` and
``metrics/`` stay plain PyTorch and ``reports/`` never imports torch. The new content goes to a
uniquely named temporary file in the target's folder (so concurrent writers never share one),
is flushed and fsynced, then renamed over the target. The temporary file is created with mode
0666 and the kernel applies the process umask, as for any ordinary file (0644 under umask 022),
so colleagues can read what a run writes; it is removed on any error.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _create_temp(path: Path) -> tuple[int, Path]:
    """An exclusive new file beside ``path``: hidden, named after it, with a random part."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
        except FileExistsError:
            continue


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Name ``path`` in an `OSError` raised while writing it that names no file (a write to a
    full disk) or only a temporary one, so the user's error message says which file."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None or Path(exc.filename).name.startswith(f".{path.name}."):
            exc.filename, exc.filename2 = str(path), None
        raise


@contextmanager
def atomic_file(path: Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """A handle whose content replaces ``path`` once the block ends without error.

    ``mode`` is ``"w"`` (text, UTF-8 unless ``encoding`` says otherwise) or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file writes a whole file: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    with naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(path)
        try:
            text = {"encoding": encoding or "utf-8"} if mode == "w" else {}
            with os.fdopen(fd, mode, **text) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see `atomic_file`)."""
    with atomic_file(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically (see `atomic_file`)."""
    with atomic_file(path, "w") as handle:
        handle.write(text)
