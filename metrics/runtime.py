"""Runtime measurements: latency, batched throughput and peak memory.

Timing protocol (`measure`): the device is synchronised around every timed call. A method that
is not iterative gets one untimed warm-up call (once per worker, so lazy initialisation and
autotuning are not timed) and then the median of `REPEATS` timed calls; an iterative method
(Gatys: hundreds of optimisation steps per image) is timed once, without warm-up, since one run
already averages over its steps and repeating it would multiply the cost of a run.

On a GPU, peak memory is what the CUDA allocator reserved at most; on a CPU it is the peak
resident set size of the worker process, sampled every few milliseconds while the work runs.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psutil
import torch

from stylebench.metrics.base import MeasuredMetric, MetricInfo

T = TypeVar("T")

#: Timed calls of a non-iterative method; the median is reported.
REPEATS = 5
#: Largest batch throughput is measured at (fewer if the suite has fewer content images).
THROUGHPUT_BATCH = 8


class Latency(MeasuredMetric):
    """Wall time per image."""

    info = MetricInfo(
        name="latency",
        higher_is_better=False,
        per="image",
        unit="s",
        description="seconds to stylize one image, device synchronised: median of 5 runs after a "
        "warm-up, or one run for iterative methods",
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


class Throughput(MeasuredMetric):
    """Images per second when stylizing a batch."""

    info = MetricInfo(
        name="throughput",
        higher_is_better=True,
        per="method",
        unit="images/s",
        description=f"images per second stylizing a batch of up to {THROUGHPUT_BATCH} content "
        "images (same timing protocol as latency)",
        needs=("content", "style"),
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


@dataclass(frozen=True)
class Measurement:
    """What one application of the timing protocol measured."""

    seconds: float
    runs: list[float]
    warmed_up: bool
    peak_mib: float
    memory_kind: str

    def protocol(self) -> dict:
        return {
            "statistic": "median" if len(self.runs) > 1 else "single run",
            "runs": len(self.runs),
            "warm_up": self.warmed_up,
        }


def measure(
    fn: Callable[[], T], device: torch.device, iterative: bool, warm_up: bool
) -> tuple[T, Measurement]:
    """Time ``fn`` by the protocol in the module docstring; ``warm_up`` asks for the untimed call
    (ignored for iterative methods). Returns the last call's result and the measurement."""
    warmed = warm_up and not iterative
    if warmed:
        fn()
        synchronize(device)
    runs: list[float] = []
    with PeakMemory(device) as memory:
        for _ in range(1 if iterative else REPEATS):
            result, seconds = timed(fn, device)
            runs.append(seconds)
    return result, Measurement(
        seconds=statistics.median(runs),
        runs=runs,
        warmed_up=warmed,
        peak_mib=memory.peak_mib,
        memory_kind=memory.kind,
    )


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
