"""The scheduler on a fake executor (no Ray): order, placement of method jobs, retries when a
worker dies, and interruption. The Ray-backed end-to-end tests run it on real actors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from stylebench.plan import Cell
from stylebench.scheduler import MethodWork, Scheduler, WorkerDied, WorkItem, with_early
from stylebench.worker import CellResult, MethodJob, MethodResult, ReferenceSpec


class FakeExecutor:
    """Workers ``w0``, ``w1``, ...; items finish one per `wait`, in the order they started.
    ``deaths[key]``: how many attempts of an item have their worker die."""

    def __init__(self, workers: int, deaths: dict[str, int] | None = None) -> None:
        self.workers = [f"w{i}" for i in range(workers)]
        self.spawned = workers
        self.deaths = Counter(deaths or {})
        self.started: list[tuple[str, str]] = []  # (worker, item key), in start order
        self.replaced: list[str] = []
        self._running: dict[int, tuple[str, WorkItem]] = {}

    def submit(self, worker, item):
        handle = len(self.started)
        self.started.append((worker, item.key))
        self._running[handle] = (worker, item)
        return handle

    def wait(self, handles):
        handle = min(handles)
        worker, item = self._running.pop(handle)
        if self.deaths[item.key] > 0:
            self.deaths[item.key] -= 1
            return [(handle, WorkerDied("killed"))]
        if item.cell is not None:
            return [(handle, CellResult(cell_id=item.cell.id, status="ok", worker=worker))]
        early = item.kind == "early"
        throughput = {"value": 2.0} if early else None
        timings = {"throughput": 1.0} if early else {}
        return [(handle, MethodResult(item.method, throughput=throughput, timings=timings))]

    def restart(self, worker):
        self.replaced.append(worker)
        self.workers.remove(worker)
        self.workers.append(f"w{self.spawned}")
        self.spawned += 1
        return self.workers[-1]


def cells(method: str, n: int) -> list[Cell]:
    return [Cell(f"{method}/{i}", method, f"c{i}", "s", 0) for i in range(n)]


def job(method: str) -> MethodJob:
    return MethodJob(method, np.zeros((0, 2048)), {}, ReferenceSpec((), (), "p", 32))


class Events:
    """What the driver saw, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.methods: dict[str, MethodResult] = {}

    def cell(self, result: CellResult) -> None:
        self.seen.append(result.cell_id)
        self.last_cell = result

    def method(self, result: MethodResult) -> None:
        self.seen.append(f"method {result.method}")
        self.methods[result.method] = result

    def work(self, methods: list[str]) -> MethodWork:
        return MethodWork(methods=methods, job=job, early=job, on_result=self.method)


def test_early_jobs_start_first_cells_keep_their_order_and_method_jobs_wait_for_their_cells():
    executor, events = FakeExecutor(2), Events()
    work = events.work(["a", "b"])
    Scheduler(executor, cells("a", 3) + cells("b", 1), events.cell, work).run()
    keys = [key for _, key in executor.started]
    assert keys[:2] == ["early job a", "early job b"]
    assert [k for k in keys if "/" in k] == ["a/0", "a/1", "a/2", "b/0"]
    for method, n in (("a", 3), ("b", 1)):
        assert keys.index(f"method job {method}") > keys.index(f"{method}/{n - 1}")
        assert events.seen.index(f"method {method}") > events.seen.index(f"{method}/{n - 1}")
    assert events.methods["a"].throughput == {"value": 2.0}  # the early job's, joined in
    prepared = {w for w, key in executor.started if key.startswith("a/") or key == "early job a"}
    assert next(w for w, key in executor.started if key == "method job a") in prepared


def test_a_method_job_goes_to_a_worker_that_prepared_the_method_else_to_any_once_none_lives():
    scheduler = Scheduler(FakeExecutor(3), [], lambda result: None)
    scheduler.prepared["a"] = {"w1"}
    scheduler.idle = ["w0", "w1"]
    assert scheduler.worker_for("a") == "w1"
    scheduler.idle = ["w0", "w2"]
    assert scheduler.worker_for("a") is None  # wait for w1, which holds the method
    scheduler.executor.workers = ["w0", "w2"]  # w1 died
    assert scheduler.worker_for("a") == "w2"
    scheduler.idle = []
    assert scheduler.worker_for("a") is None


def test_a_cell_whose_worker_dies_is_retried_on_a_fresh_worker_and_delivered_once():
    executor, events = FakeExecutor(2, deaths={"a/1": 2}), Events()
    Scheduler(executor, cells("a", 3), events.cell, max_attempts=3).run()
    assert sorted(events.seen) == ["a/0", "a/1", "a/2"]
    assert [key for _, key in executor.started].count("a/1") == 3
    assert len(executor.replaced) == 2 and len(executor.workers) == 2


def test_a_cell_that_kills_every_worker_fails_after_max_attempts_and_the_run_goes_on():
    executor = FakeExecutor(2, deaths={"a/0": 5})
    results: dict[str, CellResult] = {}
    Scheduler(executor, cells("a", 2), lambda r: results.setdefault(r.cell_id, r)).run()
    assert results["a/0"].status == "failed"
    assert results["a/0"].error == "worker died 3 times running this: killed"
    assert results["a/1"].status == "ok" and len(executor.replaced) == 3


def test_method_and_early_jobs_are_retried_and_a_lost_early_job_is_the_throughput_error():
    executor, events = FakeExecutor(1, deaths={"method job a": 1, "early job a": 3}), Events()
    Scheduler(executor, cells("a", 1), events.cell, events.work(["a"])).run()
    keys = [key for _, key in executor.started]
    assert keys.count("early job a") == 3 and keys.count("method job a") == 2
    assert events.seen.count("method a") == 1
    lost = "worker died 3 times running this: killed"
    assert events.methods["a"].throughput == {"value": None, "error": lost}


def test_a_method_with_nothing_to_do_starts_no_job():
    executor, events = FakeExecutor(2), Events()
    work = MethodWork(methods=["a"], job=lambda m: None, early=lambda m: None)
    Scheduler(executor, cells("a", 2), events.cell, work).run()
    assert [key for _, key in executor.started] == ["a/0", "a/1"]


def test_an_interrupt_in_the_driver_stops_scheduling_at_once():
    executor = FakeExecutor(2)

    def stop(result: CellResult) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Scheduler(executor, cells("a", 6), stop).run()
    # Two cells started, one finished and the freed worker took the next: nothing after.
    assert [key for _, key in executor.started] == ["a/0", "a/1", "a/2"]


def test_the_early_throughput_result_joins_the_method_result():
    early = MethodResult("gatys", throughput={"value": 2.5}, timings={"throughput": 1.5})
    result = with_early(MethodResult("gatys", set_scores={"fid": {}}), early)
    assert result.throughput == {"value": 2.5} and result.timings == {"throughput": 1.5}
    assert result.set_scores == {"fid": {}}
    died = MethodResult("gatys", error="worker died 3 times running this: killed")
    joined = with_early(MethodResult("gatys"), died)
    assert joined.throughput == {"value": None, "error": died.error}
    assert with_early(MethodResult("gatys"), None).throughput is None
