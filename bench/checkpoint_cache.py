"""The on-disk checkpoint cache: ``<cache>/checkpoints/<method>/<key>.pt`` and ``<key>.json``.

Content-addressed: the key (`bench.training`) hashes everything that decides the weights, so a
file found under it can be used as it is. Writes are atomic (readers see the old file or the new
one); an entry that cannot be read or whose state dict does not match its recorded hash counts
as absent, so it is trained again.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.paths import cache_dir
from bench.train_task import State, TrainingJob
from methods.core.weights import WeightsUnavailable, read_state_dict, state_dict_sha256


def checkpoint_dir() -> Path:
    return cache_dir() / "checkpoints"


def cache_paths(job: TrainingJob) -> tuple[Path, Path]:
    """Where a job's state dict and its facts live in the cache."""
    folder = checkpoint_dir() / job.method
    return folder / f"{job.key}.pt", folder / f"{job.key}.json"


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_cached(job: TrainingJob) -> tuple[State, dict[str, Any]] | None:
    """The cached checkpoint of ``job`` and its facts, or None when there is none (or it is
    unreadable, in which case it is trained again)."""
    state_path, meta_path = cache_paths(job)
    if not (state_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        state = read_state_dict(state_path)
    except (OSError, json.JSONDecodeError, WeightsUnavailable):
        return None
    if meta.get("sha256") != state_dict_sha256(state):
        return None
    return state, meta


def write_cached(job: TrainingJob, state: State, meta: dict[str, Any]) -> Path:
    """Save a trained checkpoint and its facts atomically; returns the state dict's path."""
    state_path, meta_path = cache_paths(job)
    _atomic(state_path, lambda tmp: torch.save(state, tmp))
    _atomic(meta_path, lambda tmp: tmp.write_text(json.dumps(meta, indent=1, sort_keys=True)))
    return state_path
