"""The files a record names (inputs, outputs), read only from inside its run folder.

A record is JSON anyone can edit or send: a name that leads outside the run folder (an absolute
path, ``..``, a symlink out) would put any file the user can read into a report meant to be
mailed around. Such names are refused, with a warning, and the report shows the rest.
"""

from __future__ import annotations

import sys
from pathlib import Path


class RunFiles:
    """Resolves the names in one run's record against its run folder, after symlinks."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir.resolve()
        #: The names refused so far (each warned about once).
        self.refused: list[str] = []

    def path(self, name: str | None) -> Path | None:
        """The file ``name`` inside the run folder, or None for no name or a name that leads
        outside it (refused: one ``warning:`` line on stderr naming the record and the name)."""
        if not name:
            return None
        path = (self.run_dir / name).resolve()
        if path.is_relative_to(self.run_dir):
            return path
        if name not in self.refused:
            self.refused.append(name)
            print(
                f"warning: {self.run_dir / 'record.json'} names {name}, which is outside the "
                "run folder: left out of the report",
                file=sys.stderr,
            )
        return None
