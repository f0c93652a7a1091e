"""What a run shows while it works (live bars on a terminal, plain lines in logs), and download bars.

A run must never look hung: Ray starting, workers loading networks and a training that lasts
hours all say what they are doing. On a terminal, rich redraws a status line (with the time
running), a bar per training job (step, loss, ETA) and the cells bar several times a second.
Off a terminal (CI logs), the same facts come as plain lines: events (a job trained, a cell
failed, the last cell) at once, and otherwise a status line whenever nothing was printed for
`PLAIN_INTERVAL_S`, so a log gets one line every few seconds, never a redraw per step. ETAs
come from the plan's cost model (`bench.eta`), not from a window over recent completions.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from stylebench.eta import CostModel

#: Off a terminal: a status line when nothing was printed for this long (and no more often).
PLAIN_INTERVAL_S = 5.0


@dataclass(frozen=True)
class TrainingStep:
    """A training task's report: ``step`` of ``steps`` done, the latest total loss, and the
    ``seconds`` that the steps after step ``since`` (the task's first report) took."""

    step: int
    steps: int
    loss: float | None
    seconds: float
    since: int


class Watcher(Protocol):
    """What `bench.execute` tells whoever shows a run's progress."""

    def note(self, text: str) -> None: ...

    def workers(self, count: int) -> None: ...

    def training_step(self, key: str, report: TrainingStep) -> None: ...


class Unwatched:
    """A `Watcher` for calls nobody watches (tests, library use)."""

    def note(self, text: str) -> None:
        pass

    def workers(self, count: int) -> None:
        pass

    def training_step(self, key: str, report: TrainingStep) -> None:
        pass


def clock_text(seconds: float | None) -> str:
    """``0:01:05``, or ``?`` while nothing is measured."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def job_line(entry: dict[str, Any]) -> str:
    """One line per training job: trained (time, device), reused from the cache, loaded, failed
    (rich markup, the failed job's error escaped)."""
    label, source = escape(entry["label"]), entry["source"]
    if source == "trained":
        return f"trained {label} in {entry['seconds']:.1f}s on {escape(entry['device'])}"
    if source == "cache":
        return f"reused {label}: cached checkpoint {entry['key'][:12]} (no training)"
    if source == "file":
        return f"loaded {label} from {escape(str(entry['path']))}"
    return f"[red]training {label} FAILED[/]: {escape(str(entry.get('error')))}"


class _EtaColumn(ProgressColumn):
    """``ETA 0:00:42``, counting down between measurements (``deadline`` on the task)."""

    def render(self, task: Task) -> Text:
        deadline = task.fields.get("deadline")
        if task.finished or "deadline" not in task.fields:
            return Text("")
        left = None if deadline is None else deadline - task.get_time()
        return Text(f"ETA {clock_text(left)}")


@dataclass
class _Job:
    label: str
    steps: int
    step: int = 0
    loss: float | None = None
    task: Any = None
    done: bool = False


class RunProgress:
    """Progress of one `bench run` / `bench train`: notes, training jobs, cells (thread-safe:
    the plain-line heartbeat runs in a thread of its own)."""

    def __init__(
        self,
        console: Console | None = None,
        interval_s: float = PLAIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: bool = True,
    ) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True, highlight=False)
        self.live = self.console.is_terminal
        self.interval_s = interval_s
        self.clock = clock
        self._lock = threading.RLock()
        self._started = clock()
        self._last_line = self._started
        self._status = "starting"
        self._jobs: dict[str, _Job] = {}
        self._training = CostModel({})
        self._cells: CostModel | None = None
        self._cell_counts = {"done": 0, "failed": 0, "total": 0}
        self._cells_task: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bars = Progress(
            SpinnerColumn(finished_text=" "),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            _EtaColumn(),
            TimeElapsedColumn(),
            console=self.console,
            get_time=clock,
            refresh_per_second=4,
            disable=not self.live,
        )
        self._status_task = self._bars.add_task(self._status, total=None, info="")
        if heartbeat and not self.live:
            self._thread = threading.Thread(target=self._beat, name="progress", daemon=True)

    def __enter__(self) -> RunProgress:
        self._bars.start()
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._bars.stop()

    # What the run reports ---------------------------------------------------------------------

    def note(self, text: str, line: bool = True) -> None:
        """A new phase (``starting Ray``): the status line, and a line of its own unless
        ``line`` is false (checking inputs: a bad input must be the one line a user sees; the
        phase still shows if it lasts)."""
        with self._lock:
            self._status = text
            self._bars.update(self._status_task, description=escape(text))
            if line:
                self._say(escape(text))

    def workers(self, count: int) -> None:
        """How many workers share the cells (the ETA divides the work left among them)."""
        with self._lock:
            if self._cells is not None:
                self._cells.workers = max(1, count)
            self._training.workers = max(1, count)

    def add_jobs(self, jobs: dict[str, tuple[str, str, int]]) -> None:
        """Training jobs about to run: ``key -> (method, label, steps)``."""
        with self._lock:
            items = {key: (method, steps) for key, (method, _, steps) in jobs.items()}
            self._training = CostModel(items, self._training.workers)
            for key, (_, label, steps) in jobs.items():
                job = _Job(label, steps)
                job.task = self._bars.add_task(
                    escape(label), total=steps, info="waiting", deadline=None
                )
                self._jobs[key] = job

    def training_step(self, key: str, report: TrainingStep) -> None:
        """A training task's latest step."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.done:
                return
            job.step, job.loss = report.step, report.loss
            if report.step > report.since:
                per_step = report.seconds / (report.step - report.since)
                self._training.measured(key, report.step, per_step * report.step)
            self._bars.update(
                job.task,
                completed=report.step,
                info=self._job_info(job),
                deadline=self._job_deadline(key),
            )

    def job_done(self, entry: dict[str, Any]) -> None:
        """A job trained, reused, loaded or failed: its line, and its bar goes."""
        with self._lock:
            job = self._jobs.get(entry["key"])
            if job is not None and not job.done:
                job.done = True
                self._bars.update(job.task, visible=False)
                seconds = entry.get("seconds") if entry["source"] == "trained" else None
                self._training.finished(entry["key"], seconds)
            self._say(job_line(entry))

    def start_cells(self, total: int, done: int, costs: dict[str, tuple[str, float]]) -> None:
        """The cells bar: ``total`` cells, ``done`` already in the journal, and the cost of each
        cell still to run (``id -> (method, loss evaluations)``)."""
        with self._lock:
            self._cells = CostModel(costs, self._training.workers)
            self._cell_counts.update(done=done, total=total, failed=0)
            self._cells_task = self._bars.add_task(
                "cells", total=total, completed=done, info=self._cells_info(), deadline=None
            )

    def cell_done(self, cell_id: str, ok: bool, detail: str, seconds: float | None) -> None:
        """A cell finished (``seconds``: its worker time, None if it never ran)."""
        with self._lock:
            counts = self._cell_counts
            counts["done"] += 1
            counts["failed"] += 0 if ok else 1
            if self._cells is not None and cell_id in self._cells.items:
                self._cells.finished(cell_id, seconds)
            left = self._cells.seconds_left() if self._cells is not None else None
            if self._cells_task is not None:
                self._bars.update(
                    self._cells_task,
                    completed=counts["done"],
                    info=self._cells_info(),
                    deadline=None if left is None else self.clock() + left,
                )
            last = counts["done"] >= counts["total"]
            quiet = self.clock() - self._last_line >= self.interval_s
            if not self.live and (not ok or last or quiet):
                status = "ok" if ok else "FAILED"
                eta = "" if last else f" (ETA {clock_text(left)})"
                self._say(
                    escape(f"[{counts['done']}/{counts['total']}] {cell_id} {status} {detail}{eta}")
                )

    # Plain lines -------------------------------------------------------------------------------

    def _say(self, markup: str) -> None:
        """A line (rich markup): above the bars on a terminal, plain in a log."""
        self._last_line = self.clock()
        self.console.print(markup, highlight=False)

    def tick(self) -> None:
        """Off a terminal: print the status if nothing was printed for the interval."""
        with self._lock:
            if self.clock() - self._last_line >= self.interval_s:
                self._say(escape(self.status()))

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.interval_s / 5)):
            self.tick()

    def status(self) -> str:
        """What the run is doing now, in one line."""
        with self._lock:
            running = [k for k, j in self._jobs.items() if j.step and not j.done]
            if running:
                return "; ".join(
                    f"training {self._jobs[k].label}: {self._job_info(self._jobs[k])}, ETA "
                    f"{clock_text(self._job_left(k))}"
                    for k in running
                )
            counts = self._cell_counts
            if self._cells is not None and counts["done"] < counts["total"]:
                return f"cells {self._cells_info()}, ETA {clock_text(self._cells.seconds_left())}"
            return f"{self._status} ({clock_text(self.clock() - self._started)})"

    def _job_info(self, job: _Job) -> str:
        if job.step == 0:
            return "waiting"
        loss = "" if job.loss is None else f", loss {job.loss:.4g}"
        return f"step {job.step}/{job.steps}{loss}"

    def _job_left(self, key: str) -> float | None:
        item = self._training.items[key]
        rate = self._training.rate(item.kind) or self._training.rate()
        return None if rate is None else (item.units - item.done_units) * rate

    def _job_deadline(self, key: str) -> float | None:
        left = self._job_left(key)
        return None if left is None else self.clock() + left

    def _cells_info(self) -> str:
        counts = self._cell_counts
        return f"{counts['done']}/{counts['total']}, {counts['failed']} failed"


class ByteProgress:
    """Bytes downloaded of a file, with speed and ETA; ``update`` fits `bench.data.download`."""

    def __init__(self, label: str, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True, highlight=False)
        self._progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._progress.add_task(label, total=None)

    def __enter__(self) -> ByteProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, done: int, total: int | None) -> None:
        self._progress.update(self._task, completed=done, total=total)
