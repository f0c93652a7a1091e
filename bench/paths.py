"""Where stylebench keeps things between runs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """The user cache folder (``$STYLEBENCH_CACHE`` overrides it): data, statistics, checkpoints."""
    root = os.environ.get("STYLEBENCH_CACHE") or platformdirs.user_cache_dir("stylebench")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
