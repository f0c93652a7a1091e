"""Where a run's time goes: compute timed on the worker, summed in the record, and the driver's
writing kept off the workers' critical path. No assertion here is about speed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

import stylebench.execute as execute
from stylebench.plan import Cell
from stylebench.record_builder import compute_summary
from stylebench.suites import procedural
from stylebench.worker import CellResult, CellRunner, WorkerSettings


def _runner(metrics: tuple[str, ...]) -> CellRunner:
    images = {
        "c-0": np.asarray(procedural.scene(0, size=32), dtype=np.uint8),
        "s-0": np.asarray(procedural.painting(0, size=32), dtype=np.uint8),
    }
    settings = WorkerSettings(
        weights="random", seed=0, methods={"gatys": {"steps": 2}}, metrics=metrics
    )
    return CellRunner(settings, images)


def test_a_cell_reports_the_seconds_of_each_kind_of_work():
    runner = _runner(("latency", "content_loss", "style_loss"))
    first = runner.run(Cell("gatys/c-0/s-0", "gatys", "c-0", "s-0", 1), ["s-0"])
    again = runner.run(Cell("gatys/c-0/s-0b", "gatys", "c-0", "s-0", 2), ["s-0"])
    assert first.status == "ok", first.traceback
    assert set(first.timings) == {"setup", "prepare", "stylize", "score"}
    assert all(value >= 0 for value in first.timings.values())
    # The timed stylize call (latency) is part of the stylize work; scoring took time.
    assert first.timings["stylize"] >= first.scores["latency"] > 0
    assert first.timings["score"] > 0
    # Networks are loaded by the first cell only; the second one reuses them.
    assert again.timings["setup"] < first.timings["setup"]
    assert again.timings["prepare"] == 0 and first.prepare_time is not None


def test_a_failed_cell_reports_no_timings():
    runner = _runner(("latency",))
    result = runner.run(Cell("gatys/c-0/missing", "gatys", "c-0", "missing", 1), ["s-0"])
    assert result.status == "failed" and result.timings == {}


def test_the_record_sums_compute_and_keeps_setup_apart():
    cells = [
        {"timings": {"setup": 2.0, "prepare": 0.5, "stylize": 3.0, "score": 1.0}},
        {"timings": {"setup": 0.0, "prepare": 0.0, "stylize": 4.0, "score": 0.5}},
        {"timings": {}},  # failed before any work: counts nothing
    ]
    jobs = {"gatys": {"timings": {"throughput": 2.5, "setup": 1.0, "set_metrics": 0.25}}}
    training = [{"source": "trained", "seconds": 10.0}, {"source": "cache", "seconds": 99.0}]
    summary = compute_summary(cells, jobs, training)
    assert summary == {
        "prepare": 10.5,  # cached checkpoints were trained by another run
        "stylize": 7.0,
        "throughput": 2.5,
        "score": 1.75,
        "setup": 3.0,
        "compute": 21.75,
    }


class _Ref:
    def __init__(self, value: CellResult) -> None:
        self.value = value


class _FakeRay:
    """Just enough of Ray for `run_cells`: actors run a call when it is submitted and results
    come back in submission order. Records what was submitted before each result was handled."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def is_initialized(self) -> bool:
        return True

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 1}

    def put(self, value):
        return value

    def remote(self, cls):
        fake = self

        class Actor:
            def __init__(self, *args) -> None:
                self.run = SimpleNamespace(remote=self._run)

            def _run(self, cell: Cell, styles: list[str]) -> CellResult:
                fake.submitted.append(cell.id)
                return _Ref(CellResult(cell_id=cell.id, status="ok"))

        return SimpleNamespace(
            options=lambda **kwargs: SimpleNamespace(remote=lambda *args: Actor(*args))
        )

    def wait(self, refs, num_returns: int):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        return ref.value

    def kill(self, actor) -> None:
        pass


def test_a_freed_worker_gets_its_next_cell_before_the_driver_writes_the_last(monkeypatch):
    fake = _FakeRay()
    monkeypatch.setattr(execute, "ray", fake)
    cells = [Cell(f"m/c-{i}/s", "m", f"c-{i}", "s", i) for i in range(3)]
    seen: list[tuple[str, list[str]]] = []

    def on_result(result: CellResult) -> None:
        seen.append((result.cell_id, list(fake.submitted)))

    settings = WorkerSettings(weights="random", seed=0, methods={}, metrics=())
    execute.run_cells(cells, settings, {}, [], on_result, workers=1)
    ids = [cell.id for cell in cells]
    assert [cell_id for cell_id, _ in seen] == ids
    # While cell i's result is handled (image, journal, MLflow), cell i+1 is already running.
    assert [submitted for _, submitted in seen] == [ids[:2], ids[:3], ids[:3]]
