"""Which work runs next on which worker, and what happens when a worker dies.

The scheduler knows nothing of Ray: it hands `WorkItem`s to an `Executor` (Ray actors in a run,
plain objects in tests) and reacts to what comes back. Its rules:

- Early jobs first: a method's throughput batch needs no outputs, so it starts before the cells
  (it never waits at the end of a run while other workers idle).
- Cells in the order given (the driver sorts them longest first).
- A method's job (set metrics such as FID) starts once all its cells are done and its early job
  is back, on a worker that already prepared the method (preparing again can mean training
  again), or on any idle worker when no worker that prepared it is alive.
- A worker that dies (killed, out of memory) is replaced and its item is tried again, up to
  ``max_attempts`` times in all; then the item's failure result is delivered. An exception
  inside a cell or job is not a death: the worker reports it as the item's result.
- A freed worker gets its next item before the driver handles the finished one (writing images,
  journal lines and MLflow entries never holds up compute).
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from stylebench.plan import Cell
from stylebench.worker import CellResult, MethodJob, MethodResult

Kind = Literal["cell", "early", "method"]
Result = CellResult | MethodResult


@dataclass(frozen=True)
class WorkItem:
    """One thing a worker runs: a cell, a method's early job (its throughput batch), or a
    method's job over all its outputs (set metrics, joined with the early job's throughput)."""

    kind: Kind
    method: str
    cell: Cell | None = None
    job: MethodJob | None = None

    @classmethod
    def for_cell(cls, cell: Cell) -> WorkItem:
        return cls("cell", cell.method, cell=cell)

    @property
    def key(self) -> str:
        """What retries are counted by."""
        if self.cell is not None:
            return self.cell.id
        return f"{'early job' if self.kind == 'early' else 'method job'} {self.method}"

    def lost(self, attempts: int, reason: str) -> Result:
        """The result of an item whose worker died on every attempt."""
        error = f"worker died {attempts} times running this: {reason}"
        if self.cell is not None:
            return CellResult(cell_id=self.cell.id, status="failed", error=error)
        return MethodResult(method=self.method, error=error)


@dataclass(frozen=True)
class WorkerDied:
    """What an executor returns for an item whose worker process died."""

    reason: str


class Executor(Protocol):
    """Where items run. ``workers`` are the live workers (opaque, hashable); `submit` starts an
    item on an idle one and returns a handle; `wait` blocks until at least one item is done and
    returns each done handle with its result (or `WorkerDied`); `restart` retires a dead worker
    and returns a fresh one."""

    workers: list[Hashable]

    def submit(self, worker: Hashable, item: WorkItem) -> Hashable: ...

    def wait(self, handles: Sequence[Hashable]) -> list[tuple[Hashable, Result | WorkerDied]]: ...

    def restart(self, worker: Hashable) -> Hashable: ...


@dataclass
class MethodWork:
    """Per-method work (set metrics, throughput) to do around a method's cells.

    ``job`` builds a method's job on the driver once its cells are done (``None``: nothing to
    do, e.g. its result is already in the journal); ``early`` builds the part that needs no
    outputs (the throughput batch); ``on_result`` receives each method's result, the early job's
    joined in (`with_early`). ``checkpoints``: keys of trained checkpoints the jobs load
    (shipped to workers with those of the cells).
    """

    methods: Sequence[str] = ()
    checkpoints: Sequence[str] = ()
    job: Callable[[str], MethodJob | None] = lambda method: None
    early: Callable[[str], MethodJob | None] = lambda method: None
    on_result: Callable[[MethodResult], None] = lambda result: None


def with_early(result: MethodResult, early: MethodResult | None) -> MethodResult:
    """A method job's result with its early job's throughput (or that job's error) joined in."""
    if early is not None:
        result.throughput = early.throughput or {"value": None, "error": early.error}
        if "throughput" in early.timings:
            result.timings["throughput"] = early.timings["throughput"]
    return result


class Scheduler:
    """Runs cells and method work on an executor's workers until all are delivered."""

    def __init__(
        self,
        executor: Executor,
        cells: Sequence[Cell],
        on_cell: Callable[[CellResult], None],
        work: MethodWork | None = None,
        max_attempts: int = 3,
        on_first_result: Callable[[], None] = lambda: None,
    ) -> None:
        self.executor = executor
        self.work = work or MethodWork()
        self.on_cell = on_cell
        self.max_attempts = max_attempts
        self.on_first_result = on_first_result
        self.idle: list[Hashable] = list(executor.workers)
        #: Cells not started yet, in order (a retried cell goes first).
        self.cells: deque[WorkItem] = deque(WorkItem.for_cell(c) for c in cells)
        #: Early jobs not started yet (a retried one goes first).
        self.early: deque[WorkItem | str] = deque(self.work.methods)
        #: Methods whose method job has not started yet.
        self.waiting: list[str] = list(self.work.methods)
        self.running: dict[Hashable, tuple[Hashable, WorkItem]] = {}
        self.attempts: Counter[str] = Counter()
        self.cells_left: Counter[str] = Counter(c.method for c in cells)
        #: Workers that prepared each method (ran one of its cells or its early job).
        self.prepared: defaultdict[str, set[Hashable]] = defaultdict(set)
        self.early_running: set[str] = set()
        self.early_results: dict[str, MethodResult] = {}
        self.jobs: dict[str, MethodJob] = {}
        self.started = False

    @property
    def done(self) -> bool:
        return not (self.cells or self.running or self.waiting or self.early)

    def run(self) -> None:
        while not self.done:
            self._start_method_jobs()
            self._start_early_jobs_and_cells()
            if not self.running:
                continue
            finished = self._collect()
            self._start_early_jobs_and_cells()
            for item, result in finished:
                self._deliver(item, result)

    def _submit(self, worker: Hashable, item: WorkItem) -> None:
        self.idle.remove(worker)
        if item.kind != "method":
            self.prepared[item.method].add(worker)
        self.attempts[item.key] += 1
        self.running[self.executor.submit(worker, item)] = (worker, item)

    def _start_early_jobs_and_cells(self) -> None:
        while self.early and self.idle:
            entry = self.early.popleft()
            item = entry if isinstance(entry, WorkItem) else self._early_item(entry)
            if item is not None:
                self.early_running.add(item.method)
                self._submit(self.idle[-1], item)
        while self.cells and self.idle:
            self._submit(self.idle[-1], self.cells.popleft())

    def _early_item(self, method: str) -> WorkItem | None:
        job = self.work.early(method)
        return WorkItem("early", method, job=job) if job is not None else None

    def _start_method_jobs(self) -> None:
        for method in list(self.waiting):
            if self.cells_left[method] or method in self.early_running:
                continue
            worker = self.worker_for(method)
            if worker is None:
                continue
            self.waiting.remove(method)
            job = self.jobs.get(method) or self.work.job(method)
            if job is None:
                continue
            self.jobs[method] = job
            self._submit(worker, WorkItem("method", method, job=job))

    def worker_for(self, method: str) -> Hashable | None:
        """An idle worker that prepared ``method``, else any idle one if no worker that did is
        still alive."""
        prepared = self.prepared[method]
        for worker in self.idle:
            if worker in prepared:
                return worker
        alive = self.executor.workers
        if self.idle and not any(worker in prepared for worker in alive):
            return self.idle[-1]
        return None

    def _collect(self) -> list[tuple[WorkItem, Result]]:
        """Wait for finished items; a dead worker's item is queued again or, out of attempts,
        finished with its failure result."""
        finished = []
        for handle, outcome in self.executor.wait(list(self.running)):
            if not self.started:
                self.started = True
                self.on_first_result()
            worker, item = self.running.pop(handle)
            if not isinstance(outcome, WorkerDied):
                self.idle.append(worker)
                finished.append((item, outcome))
                continue
            self.idle.append(self.executor.restart(worker))
            if self.attempts[item.key] < self.max_attempts:
                self._retry(item)
            else:
                finished.append((item, item.lost(self.attempts[item.key], outcome.reason)))
        return finished

    def _retry(self, item: WorkItem) -> None:
        if item.kind == "cell":
            self.cells.appendleft(item)
        elif item.kind == "early":
            self.early_running.discard(item.method)
            self.early.appendleft(item)
        else:
            self.waiting.append(item.method)

    def _deliver(self, item: WorkItem, result: Result) -> None:
        if isinstance(result, CellResult):
            self.cells_left[item.method] -= 1
            self.on_cell(result)
        elif item.kind == "early":
            self.early_running.discard(item.method)
            self.early_results[item.method] = result
        else:
            self.work.on_result(with_early(result, self.early_results.get(item.method)))
