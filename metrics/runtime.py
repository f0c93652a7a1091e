"""Runtime measurements: wall time with device synchronisation, and peak memory.

On a GPU, peak memory is what the CUDA allocator reserved at most; on a CPU it is the peak
resident set size of the worker process, sampled every few milliseconds while the work runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psutil
import torch

from metrics.base import MeasuredMetric, MetricInfo

T = TypeVar("T")


class Latency(MeasuredMetric):
    """Wall time per image."""

    info = MetricInfo(
        name="latency",
        higher_is_better=False,
        per="image",
        unit="s",
        description="wall time to stylize one image (device synchronised; warm-up run first on GPU)",
    )


class PeakMemoryUse(MeasuredMetric):
    """Peak memory while stylizing."""

    info = MetricInfo(
        name="peak_memory",
        higher_is_better=False,
        per="image",
        unit="MiB",
        description="peak GPU memory allocated, or peak process RSS on CPU, while stylizing",
    )


class PrepareTime(MeasuredMetric):
    """Time to train or load a method."""

    info = MetricInfo(
        name="prepare_time",
        higher_is_better=False,
        per="method",
        unit="s",
        description="time to prepare the method (training or loading) before stylizing",
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], T], device: torch.device) -> tuple[T, float]:
    """Run ``fn`` and return its result and wall time, with the device synchronised around it."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return result, time.perf_counter() - start


class PeakMemory:
    """Context manager measuring peak memory (MiB) of the block it wraps."""

    def __init__(self, device: torch.device, interval_s: float = 0.005) -> None:
        self.device = device
        self.interval_s = interval_s
        self.peak_mib = 0.0
        self.kind = "cuda_allocated" if device.type == "cuda" else "process_rss"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, process.memory_info().rss / 2**20)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            self.peak_mib = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self._stop.set()
            assert self._thread is not None
            self._thread.join()
            self.peak_mib = max(self.peak_mib, psutil.Process().memory_info().rss / 2**20)
