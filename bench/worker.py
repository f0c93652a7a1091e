"""What runs on a worker: networks loaded once, then cell after cell of stylize-and-score.

`CellRunner` is plain Python so it can be tested without Ray; `bench.execute` wraps it in a Ray
actor. A cell never raises: a failure comes back as a result with its error, so one bad cell
never takes down a run.
"""

from __future__ import annotations

import os
import socket
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bench.environment import cpu_name
from bench.images import to_uint8
from bench.plan import Cell
from bench.registry import METHODS, METRICS
from methods.base import MethodContext, PrepareData, resolve_config
from methods.core.encoders import load_encoder
from methods.core.weights import WeightsSource
from metrics.base import ImageMetric
from metrics.runtime import PeakMemory, timed


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker of a run needs to know (small: sent once per worker)."""

    weights: str
    seed: int
    methods: dict[str, dict[str, Any]]
    metrics: tuple[str, ...]
    threads: int = 1


@dataclass
class CellResult:
    """The outcome of one cell, sent back to the driver."""

    cell_id: str
    status: str
    output: np.ndarray | None = None
    scores: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    prepare_time: float | None = None
    error: str | None = None
    traceback: str | None = None
    device: str = ""
    worker: str = ""
    weights: list[dict] = field(default_factory=list)


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with the torch threads in use (as records show it)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({cpu_name()}, {torch.get_num_threads()} threads)"


class CellRunner:
    """Holds networks and prepared methods for the lifetime of a worker."""

    def __init__(
        self,
        settings: WorkerSettings,
        images: dict[str, np.ndarray],
        checkpoints: dict[str, dict[str, torch.Tensor]] | None = None,
    ) -> None:
        self.settings = settings
        self.checkpoints = checkpoints or {}
        self.device = pick_device()
        if self.device.type == "cpu":
            torch.set_num_threads(settings.threads)
        self.images = images
        self.weights = WeightsSource.parse(settings.weights, seed=settings.seed)
        self._encoders: dict[str, Any] = {}
        self._methods: dict[tuple[str, str | None], Any] = {}
        self._metrics: dict[str, Any] = {}
        self._warm: set[str] = set()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def encoder(self, arch: str) -> Any:
        if arch not in self._encoders:
            self._encoders[arch] = load_encoder(arch, self.weights).to(self.device)
        return self._encoders[arch]

    def tensor(self, key: str) -> torch.Tensor:
        array = self.images[key]
        return (
            torch.from_numpy(array.copy())
            .permute(2, 0, 1)
            .float()
            .div(255)
            .unsqueeze(0)
            .to(self.device)
        )

    def _method(self, cell: Cell, styles: list[str]) -> tuple[Any, float | None]:
        """The prepared method of a cell: trained methods load their job's checkpoint (their
        training cost is recorded once per job by the driver); others prepare here, timed."""
        name = cell.method
        if (name, cell.job) in self._methods:
            return self._methods[name, cell.job], None
        cls = METHODS.get(name)
        config = resolve_config(cls, self.settings.methods[name])
        context = MethodContext(device=self.device, seed=self.settings.seed, encoder=self.encoder)
        method = cls(config, context)
        seconds = None
        if cell.job is not None:
            method.load_state_dict(self.checkpoints[cell.job])
        else:
            style_set = torch.cat([self.tensor(key) for key in styles])
            _, seconds = timed(lambda: method.prepare(PrepareData(styles=style_set)), self.device)
        self._methods[name, cell.job] = method
        return method, seconds

    def _image_metrics(self) -> dict[str, Any]:
        for name in self.settings.metrics:
            if name not in self._metrics:
                metric = METRICS.get(name)
                if issubclass(metric, ImageMetric):
                    self._metrics[name] = metric(self.encoder)
        return self._metrics

    def run(self, cell: Cell, styles: list[str]) -> CellResult:
        """Stylize and score one cell; any exception becomes a failed result."""
        try:
            return self._run(cell, styles)
        except Exception as exc:
            return CellResult(
                cell_id=cell.id,
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
                device=str(self.device),
                worker=self.worker,
            )

    def _run(self, cell: Cell, styles: list[str]) -> CellResult:
        method, prepare_time = self._method(cell, styles)
        content, style = self.tensor(cell.content), self.tensor(cell.style)

        def stylize():
            return method.stylize(content, style, seeds=[cell.seed])

        if self.device.type == "cuda" and cell.method not in self._warm:
            stylize()
            self._warm.add(cell.method)
        with PeakMemory(self.device) as memory:
            result, seconds = timed(stylize, self.device)
        output = result.images
        if output.shape != content.shape or not torch.isfinite(output).all():
            raise RuntimeError(f"{cell.method} returned {tuple(output.shape)} or non-finite pixels")
        output = output.clamp(0, 1)
        scores = {"latency": seconds, "peak_memory": memory.peak_mib}
        for name, metric in self._image_metrics().items():
            scores[name] = float(metric(output, content, style)[0])
        return CellResult(
            cell_id=cell.id,
            status="ok",
            output=to_uint8(output)[0],
            scores={k: v for k, v in scores.items() if k in self.settings.metrics},
            curves={name: values[0] for name, values in result.curves.items()},
            prepare_time=prepare_time,
            device=device_name(self.device),
            worker=self.worker,
            weights=[enc.identity.as_dict() for enc in self._encoders.values()],
        )
