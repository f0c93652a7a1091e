"""The timing protocol: warm-up and median of repeats, or one run for iterative methods."""

from __future__ import annotations

import statistics

import torch

from stylebench.metrics.runtime import REPEATS, Throughput, measure


class Calls:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        return self.count


def test_non_iterative_methods_warm_up_then_take_the_median_of_repeats():
    fn = Calls()
    result, timing = measure(fn, torch.device("cpu"), iterative=False, warm_up=True)
    assert fn.count == 1 + REPEATS and result == fn.count
    assert len(timing.runs) == REPEATS and timing.seconds == statistics.median(timing.runs)
    assert timing.warmed_up and timing.protocol()["statistic"] == "median"
    assert timing.peak_mib > 0 and timing.memory_kind == "process_rss"


def test_an_already_warm_worker_skips_the_warm_up():
    fn = Calls()
    _, timing = measure(fn, torch.device("cpu"), iterative=False, warm_up=False)
    assert fn.count == REPEATS and not timing.warmed_up


def test_iterative_methods_are_timed_once_without_warm_up():
    fn = Calls()
    _, timing = measure(fn, torch.device("cpu"), iterative=True, warm_up=True)
    assert fn.count == 1 and timing.runs == [timing.seconds] and not timing.warmed_up
    assert timing.protocol() == {"statistic": "single run", "runs": 1, "warm_up": False}


def test_throughput_is_higher_is_better_and_per_method():
    assert Throughput.info.higher_is_better and Throughput.info.per == "method"
    assert Throughput.info.unit == "images/s"
