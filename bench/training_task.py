"""What a training task runs (on a Ray worker, or in-process in tests): build the method, train
it on its job's styles and training content, hand back the state dict and the facts.

Plain Python so it can be tested without Ray; `bench.execute.run_training` wraps `train_job` in
a Ray task. A failure comes back as the result's error, so one failed job fails only its cells.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylebench.checkpoint_cache import PartialCheckpoint
from stylebench.images import load_image
from stylebench.methods.base import MethodContext, PrepareData, TrainedMethod, resolve_config
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.runtime import timed
from stylebench.progress import TrainingStep
from stylebench.registry import METHODS
from stylebench.worker import device_name, pick_device

State = dict[str, torch.Tensor]

#: A training task passes its progress on at most this often (and at its first and last step).
REPORT_EVERY_S = 2.0


@dataclass(frozen=True)
class TrainingJob:
    """One network to train (or load) for one method and style set."""

    method: str
    key: str
    label: str
    settings: dict[str, Any]
    styles: tuple[str, ...] = ()
    style_names: tuple[str, ...] = ()
    style_hashes: tuple[str, ...] = ()
    training: tuple[str, ...] = ()
    identity: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    #: Files of the style domain of a domain method (read on demand like ``training``).
    style_paths: tuple[str, ...] = ()


@dataclass
class TrainedCheckpoint:
    """What a training task hands back to the driver (state dict plus facts), or its error.

    ``resumed_from``: the step an interrupted earlier run of the job had saved and this one went
    on from (0: trained from the start); ``seconds`` then includes that run's training time.
    """

    key: str
    state: State | None = None
    curves: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    resumed_from: int = 0
    device: str = ""
    device_kind: str = ""
    devices: int = 0
    error: str | None = None
    traceback: str | None = None


class FileImages:
    """Training content read from files on demand (`bench.images.load_image`: resize the shorter
    side, centre crop), so a large training set never sits in memory or in Ray's object store."""

    def __init__(self, paths: tuple[str, ...], size: int) -> None:
        self.paths = [Path(p) for p in paths]
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def batch(self, indices: list[int]) -> torch.Tensor:
        return torch.stack([load_image(self.paths[i], self.size) for i in indices])


@dataclass(frozen=True)
class TrainingSettings:
    """What a training task needs besides its job (small: sent once per task). ``resume``: go on
    from a partial checkpoint an interrupted run left (``--retrain`` discards it)."""

    weights: str
    seed: int
    threads: int = 1
    resume: bool = True


def build_method(
    name: str, settings: dict[str, Any], seed: int, weights: str, device: torch.device
) -> TrainedMethod:
    """A trained method's instance with its backbones loaded from ``weights`` (outside any
    worker), ready to train or to load a checkpoint."""
    source = WeightsSource.parse(weights, seed=seed)
    encoders: dict[str, Any] = {}

    def encoder(arch: str) -> Any:
        if arch not in encoders:
            encoders[arch] = load_encoder(arch, source).to(device)
        return encoders[arch]

    cls = METHODS.get(name)
    context = MethodContext(device=device, seed=seed, encoder=encoder)
    return cls(resolve_config(cls, settings), context)


class StepReporter:
    """The `methods.base.StepReport` of a training task: turns steps into `TrainingStep`
    reports for ``report``, at most one every ``every_s`` (a step can take milliseconds, and
    each report crosses processes). Rates are timed from the first step on, so loading networks
    and the first, slower step do not skew the ETA."""

    def __init__(
        self,
        report: Callable[[TrainingStep], None],
        every_s: float = REPORT_EVERY_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.report, self.every_s, self.clock = report, every_s, clock
        self.first: tuple[int, float] | None = None
        self.last = -float("inf")

    def __call__(self, step: int, steps: int, terms: dict[str, float]) -> None:
        now = self.clock()
        if self.first is None:
            self.first = (step, now)
        elif step < steps and now - self.last < self.every_s:
            return
        self.last = now
        loss = terms.get("total", next(iter(terms.values()), None))
        self.report(TrainingStep(step, steps, loss, now - self.first[1], self.first[0]))


def train_job(
    job: TrainingJob,
    settings: TrainingSettings,
    styles: dict[str, np.ndarray],
    report: Callable[[TrainingStep], None] | None = None,
) -> TrainedCheckpoint:
    """Train one job (runs in a Ray task); any exception comes back as the result's error.
    ``report`` hears of the training's progress every few seconds."""
    device = pick_device()
    if device.type == "cpu":
        torch.set_num_threads(settings.threads)
    try:
        method = build_method(job.method, job.settings, settings.seed, settings.weights, device)
        size = job.settings["image_size"]
        domain = FileImages(job.style_paths, size) if job.style_paths else None
        style = (
            torch.empty(0, 3, size, size)
            if domain is not None or not job.styles  # a domain, or no style learnt ("none")
            else torch.stack(
                [
                    torch.from_numpy(styles[k].copy()).permute(2, 0, 1).float().div(255)
                    for k in job.styles
                ]
            )
        )
        data = FileImages(job.training, size)
        partial = PartialCheckpoint(job)
        if not settings.resume:
            partial.clear()
        prepare = PrepareData(
            styles=style.to(device),
            training=data,
            style_domain=domain,
            partial=partial,
            progress=StepReporter(report) if report is not None else None,
        )
        curves, seconds = timed(lambda: method.prepare(prepare), device)
        partial.clear()
        return TrainedCheckpoint(
            key=job.key,
            state=method.state_dict(),
            curves=curves,
            seconds=partial.seconds_before + seconds,
            resumed_from=partial.loaded_step,
            device=device_name(device),
            device_kind=device.type,
            devices=1 if device.type == "cuda" else torch.get_num_threads(),
        )
    except Exception as exc:
        return TrainedCheckpoint(
            key=job.key,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
            device=device_name(device),
        )
