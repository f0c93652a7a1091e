"""The on-disk checkpoint cache: ``<cache>/checkpoints/<method>/<key>.pt`` and ``<key>.json``.

Content-addressed: the key (`bench.training_jobs`) hashes everything that decides the weights, so a
file found under it can be used as it is. Writes are atomic (readers see the old file or the new
one); an entry that cannot be read or whose state dict does not match its recorded hash counts
as absent, so it is trained again. Resumable trainings also keep ``<key>.partial.pt`` there
while they run (`PartialCheckpoint`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from stylebench.atomic import atomic_file
from stylebench.methods.core.weights import WeightsUnavailable, read_state_dict, state_dict_sha256
from stylebench.paths import cache_dir
from stylebench.records import write_json_atomic

if TYPE_CHECKING:
    from stylebench.training_task import State, TrainingJob


def checkpoint_dir() -> Path:
    return cache_dir() / "checkpoints"


def cache_paths(job: TrainingJob) -> tuple[Path, Path]:
    """Where a job's state dict and its facts live in the cache."""
    folder = checkpoint_dir() / job.method
    return folder / f"{job.key}.pt", folder / f"{job.key}.json"


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
    with atomic_file(state_path, "wb") as handle:
        torch.save(state, handle)
    write_json_atomic(meta_path, meta)
    return state_path


class PartialCheckpoint:
    """A job's partial training state, ``<key>.partial.pt`` beside its cache entry: a resumable
    training (`methods.base.PartialStore`) saves it every so many steps; training the same job
    again after an interruption (a crash, Ctrl-C, a lost worker) resumes from it. Read
    weights-only; an unreadable file counts as absent. The task deletes it once training ends.

    It also carries the training seconds spent before it was saved, so a resumed training's
    time (`seconds`) counts every step that was kept, in either run.
    """

    def __init__(self, job: TrainingJob) -> None:
        folder = checkpoint_dir() / job.method
        self.path = folder / f"{job.key}.partial.pt"
        self.started = time.perf_counter()
        #: The step the loaded state was saved at, and the training seconds before it.
        self.loaded_step = 0
        self.seconds_before = 0.0

    def load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:
            return None
        if not isinstance(state, dict) or not isinstance(state.get("step"), int):
            return None
        self.loaded_step = state["step"]
        self.seconds_before = float(state.get("seconds", 0.0))
        self.started = time.perf_counter()
        return state

    def save(self, state: dict[str, Any]) -> None:
        seconds = self.seconds_before + time.perf_counter() - self.started
        with atomic_file(self.path, "wb") as handle:
            torch.save({**state, "seconds": seconds}, handle)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
