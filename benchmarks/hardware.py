"""What this machine itself gives parallel workers: the ceiling for the harness's scaling.

    uv run python -m benchmarks.hardware [--processes 2] [--seconds 6] [--repeats 2]

Runs a 1-thread convolution loop (VGG's conv1_2 at 64 px: 64 channels, 3x3) in one process
alone, then in ``--processes`` processes at once, each for ``--seconds``, and prints the total
convolutions per second of the group over the lone process's (median of ``--repeats``
interleaved rounds). No scheduler can make N workers faster than this: virtual cores that share
a physical one, or a host that is busy, give far less than N x. `benchmarks/harness.py` prints
its scaling next to this ceiling.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

from benchmarks.common import median


def _spin(seconds: float, start_at: float, results: multiprocessing.Queue) -> None:
    import torch

    torch.set_num_threads(1)
    x, w = torch.randn(1, 64, 64, 64), torch.randn(64, 64, 3, 3)
    torch.conv2d(x, w, padding=1)
    while time.time() < start_at:
        time.sleep(0.005)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.conv2d(x, w, padding=1)
        count += 1
    results.put(count / (time.perf_counter() - start))


def _together(processes: int, seconds: float) -> float:
    """Convolutions per second of ``processes`` processes started at the same instant."""
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    start_at = time.time() + 6.0  # after every process has imported torch
    group = [
        spawn.Process(target=_spin, args=(seconds, start_at, results)) for _ in range(processes)
    ]
    for process in group:
        process.start()
    rates = [results.get() for _ in group]
    for process in group:
        process.join()
    return sum(rates)


def parallel_ceiling(processes: int, seconds: float = 6.0, repeats: int = 2) -> float:
    """Throughput of ``processes`` busy 1-thread processes over one alone (median of rounds)."""
    ratios = []
    for _ in range(repeats):
        alone = _together(1, seconds)
        ratios.append(_together(processes, seconds) / alone)
    return median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    ratio = parallel_ceiling(args.processes, args.seconds, args.repeats)
    print(
        f"{args.processes} busy 1-thread processes / 1 alone: {ratio:.3f}x "
        f"(the most {args.processes} workers can get here)"
    )


if __name__ == "__main__":
    main()
