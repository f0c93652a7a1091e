"""User-facing errors: the CLI prints their message (no traceback) and exits non-zero."""

from __future__ import annotations


class BenchError(Exception):
    """Something the user can fix: the message names the file or key and says what to do."""

    exit_code = 2


class CellsFailed(BenchError):
    """The run finished, but some cells failed; their errors are in the record."""

    exit_code = 3
