"""What every benchmark script prints the same way: the machine and its load, and each ratio
next to its target (README, Performance)."""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Sequence

import torch

from stylebench.worker import device_name


def pick_device(name: str | None) -> torch.device:
    """``--device``, else CUDA when there is one, else the CPU."""
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """``--weights``, ``--device`` and ``--threads``, the same in every compute benchmark."""
    parser.add_argument("--weights", default="random", help="random | pretrained | PATH")
    parser.add_argument("--device", help="cuda | cpu (default: cuda when there is one)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")


def runtime(args: argparse.Namespace) -> torch.device:
    """Apply ``--threads`` and return the ``--device`` to measure on."""
    if args.threads:
        torch.set_num_threads(args.threads)
    return pick_device(args.device)


def machine(device: torch.device) -> str:
    """The device, the cores and the load the figures were taken under (they are noisy on a
    shared machine: say so next to them)."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{device_name(device)}; {os.cpu_count()} cores, load average {load} (1, 5, 15 min)"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    """Median and range of repeated measurements, for the printout."""
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{median(values):.3g} (min {min(values):.3g}, max {max(values):.3g}, n={len(values)})"


def verdict(label: str, ratio: float | None, target: str) -> str:
    """One line: the ratio, its target (``<= 0.9`` or ``>= 1.7``), and whether it is met."""
    if ratio is None:
        return f"{label:<46} {'not measured':>10}   target {target}"
    op, bound = target.split()
    met = ratio <= float(bound) if op == "<=" else ratio >= float(bound)
    return f"{label:<46} {ratio:>10.3f}   target {target:<8} {'met' if met else 'NOT MET'}"
