"""Fan cells out to Ray workers and stream results back as they finish.

The only module that imports Ray. A local Ray instance is started unless ``--ray-address`` /
``RAY_ADDRESS`` names a running cluster. There is one long-lived actor per GPU when the cluster
has GPUs, otherwise one per CPU core (each with its own torch threads); every actor loads its
networks once and serves many cells. Training jobs of trained methods run before the cells,
each as one Ray task, so a network is trained once per (method, style set), not once per worker.
Each method's throughput batch needs no outputs, so it runs first (longest work first); once all
cells of a method are done, its method job (set metrics such as FID) goes to an actor,
preferably one that already prepared that method.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from stylebench import ray_env

ray_env.configure(local=False)  # the CLI has already said whether it starts a local instance

import ray
import torch
from ray.exceptions import RayActorError, RayTaskError

from stylebench import interrupts, reaper
from stylebench.errors import BenchError
from stylebench.plan import Cell
from stylebench.progress import TrainingStep, Unwatched, Watcher
from stylebench.scheduler import MethodWork, Scheduler, WorkerDied, WorkItem
from stylebench.training_task import TrainedCheckpoint, TrainingJob, TrainingSettings, train_job
from stylebench.worker import CellResult, CellRunner, MethodJob, MethodResult, WorkerSettings


class ExecutionError(BenchError):
    """Ray could not be started or reached."""


#: How long the driver waits on training tasks before it passes their progress on.
POLL_S = 1.0


class _TokenNotice(logging.Filter):
    """Drops Ray's notice that a new local instance uses token authentication (Ray's default
    since 2.59, printed at every ``ray.init``): it says nothing a bench user must act on, and
    would be the first line of every run. Ray's other authentication warnings pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token authentication is enabled for this")


logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(
    _TokenNotice()
)


@dataclass(frozen=True)
class Placement:
    """How many workers, and what each one holds."""

    workers: int
    gpus_per_worker: float
    cpus_per_worker: float
    threads: int


class _Worker:
    """Ray actor around `CellRunner`."""

    def __init__(
        self,
        settings: WorkerSettings,
        images: dict[str, np.ndarray],
        checkpoints: dict[str, dict[str, torch.Tensor]],
    ) -> None:
        self.runner = CellRunner(settings, images, checkpoints)

    def run(self, cell: Cell, styles: list[str]) -> CellResult:
        return self.runner.run(cell, styles)

    def score_method(self, job: MethodJob) -> MethodResult:
        return self.runner.score_method(job)


def connect(address: str | None, watcher: Watcher | None = None) -> bool:
    """Start or join Ray; returns whether this call started it (and so must stop it)."""
    if ray.is_initialized():
        return False
    watcher = watcher or Unwatched()
    address = address or os.environ.get("RAY_ADDRESS") or None
    watcher.note(f"joining the Ray cluster at {address}" if address else "starting Ray")
    before = reaper.children()
    try:
        ray.init(
            # "local" always starts a fresh instance: without it Ray would silently join the last
            # cluster started with `ray start` on this machine, even a dead one.
            address=address or "local",
            include_dashboard=False,
            log_to_driver=True,
            logging_level="WARNING",
            configure_logging=True,
        )
    except Exception as exc:
        raise ExecutionError(_start_failure(address, exc)) from exc
    finally:
        # ray.init replaces the SIGTERM handler with one that dumps a native stack and exits.
        interrupts.stop_like_ctrl_c()
    if not address:
        _WATCHER.append(reaper.watch(reaper.children() - before))
    resources = ray.cluster_resources()
    watcher.note(
        f"Ray ready: {int(resources.get('CPU', 0))} CPUs, {int(resources.get('GPU', 0))} GPUs"
    )
    return True


def _start_failure(address: str | None, exc: Exception) -> str:
    """One line: what Ray said, and where to look or what to change."""
    reason = " ".join(str(exc).split())[:400] or type(exc).__name__
    if address:
        return (
            f"could not join the Ray cluster at {address}: {reason}. Check the address "
            "(ray start --head prints it) and that the cluster runs this Ray version"
        )
    root = os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    logs = os.path.join(root, "ray", "session_latest", "logs")
    return (
        f"could not start a local Ray instance: {reason}. Ray's logs are in {logs} "
        "(set RAY_TMPDIR to move Ray's temporary files to another folder)"
    )


#: The watcher of the local instance this process started (`bench.reaper`), if any.
_WATCHER: list[Any] = []


def _stop() -> None:
    """Stop the local instance, then release its watcher (which stops any straggler)."""
    ray.shutdown()
    while _WATCHER:
        reaper.release(_WATCHER.pop())


_SESSION = {"active": False, "started": False}


@contextmanager
def session() -> Iterator[None]:
    """One Ray instance for a block (training tasks, then cells): started lazily by the first
    call that needs it, so a block that needs no compute never starts Ray; stopped at the end
    if this block started it."""
    _SESSION.update(active=True, started=False)
    try:
        yield
    finally:
        if _SESSION["started"]:
            _stop()
        _SESSION.update(active=False, started=False)


def _join(address: str | None, watcher: Watcher) -> bool:
    """Connect; returns whether the caller must stop Ray itself (not inside a `session`)."""
    started = connect(address, watcher)
    if _SESSION["active"]:
        _SESSION["started"] = _SESSION["started"] or started
        return False
    return started


def placement(n_cells: int, requested: int | None) -> Placement:
    """One worker per GPU if there are GPUs, else one per CPU core (never more than cells)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)))
    if gpus:
        workers = min(requested or gpus, gpus, n_cells)
        return Placement(max(1, workers), 1, 1, 1)
    workers = max(1, min(requested or cpus, cpus, n_cells))
    return Placement(workers, 0, 1, max(1, cpus // workers))


class _Reports:
    """Ray actor where training tasks post their latest step; the driver takes them every
    `POLL_S` while it waits for the tasks."""

    def __init__(self) -> None:
        self.latest: dict[str, TrainingStep] = {}

    def post(self, key: str, report: TrainingStep) -> None:
        self.latest[key] = report

    def take(self) -> dict[str, TrainingStep]:
        latest, self.latest = self.latest, {}
        return latest


def _train_reporting(
    job: TrainingJob, settings: TrainingSettings, styles: dict[str, np.ndarray], reports: Any
) -> TrainedCheckpoint:
    """What a training task runs: `train_job`, posting its progress to ``reports``."""
    return train_job(job, settings, styles, lambda step: reports.post.remote(job.key, step))


def run_training(
    jobs: Sequence[TrainingJob],
    settings: TrainingSettings,
    styles: dict[str, np.ndarray],
    address: str | None = None,
    workers: int | None = None,
    max_attempts: int = 3,
    watcher: Watcher | None = None,
) -> list[TrainedCheckpoint]:
    """Train each job once, as its own Ray task (one GPU each, or a share of the CPU cores);
    results come back as jobs finish, and ``watcher`` hears each task's progress meanwhile.

    A task whose worker process dies is run again by Ray, up to ``max_attempts`` times in all;
    an exception inside training is not retried (the task reports it as the job's error).
    """
    watcher = watcher or Unwatched()
    started = _join(address, watcher)
    try:
        place = placement(len(jobs), workers)
        watcher.workers(place.workers)
        reports = ray.remote(_Reports).options(num_cpus=0).remote()
        task = ray.remote(_train_reporting).options(
            num_cpus=place.threads if not place.gpus_per_worker else 1,
            num_gpus=place.gpus_per_worker,
            max_retries=max_attempts - 1,
            retry_exceptions=False,
        )
        task_settings = TrainingSettings(**{**settings.__dict__, "threads": place.threads})
        styles_ref = ray.put(styles)
        refs = {task.remote(job, task_settings, styles_ref, reports): job for job in jobs}
        results = []
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
            for key, report in ray.get(reports.take.remote()).items():
                watcher.training_step(key, report)
            for ref in ready:
                job = refs.pop(ref)
                try:
                    results.append(ray.get(ref))
                except (RayActorError, RayTaskError) as exc:
                    reason = str(exc).splitlines()[0][:300]
                    error = f"training task died {max_attempts} times: {reason}"
                    results.append(TrainedCheckpoint(key=job.key, error=error))
        ray.kill(reports)
        return results
    finally:
        if started:
            _stop()


class _RayWorkers:
    """The `Executor` of a run: one Ray actor per worker, each holding its networks."""

    def __init__(
        self,
        place: Placement,
        settings: WorkerSettings,
        images: dict[str, np.ndarray],
        checkpoints: dict[str, dict[str, torch.Tensor]],
        styles: list[str],
    ) -> None:
        self._actor = ray.remote(_Worker).options(
            num_cpus=place.cpus_per_worker, num_gpus=place.gpus_per_worker
        )
        self._args = (settings, ray.put(images), ray.put(checkpoints))
        self._styles = styles
        self.workers: list[Any] = [self._start() for _ in range(place.workers)]

    def _start(self) -> Any:
        return self._actor.remote(*self._args)

    def submit(self, worker: Any, item: WorkItem) -> Any:
        if item.cell is not None:
            return worker.run.remote(item.cell, self._styles)
        return worker.score_method.remote(item.job)

    def wait(self, handles: Sequence[Any]) -> list[tuple[Any, Any]]:
        ready, _ = ray.wait(list(handles), num_returns=1)
        done: list[tuple[Any, Any]] = []
        for ref in ready:
            try:
                done.append((ref, ray.get(ref)))
            except (RayActorError, RayTaskError) as exc:
                done.append((ref, WorkerDied(str(exc).splitlines()[0][:300])))
        return done

    def restart(self, worker: Any) -> Any:
        ray.kill(worker)
        self.workers.remove(worker)
        self.workers.append(self._start())
        return self.workers[-1]

    def close(self) -> None:
        for worker in self.workers:
            ray.kill(worker)


def run_cells(
    cells: Sequence[Cell],
    settings: WorkerSettings,
    images: dict[str, np.ndarray],
    styles: list[str],
    on_result: Callable[[CellResult], None],
    address: str | None = None,
    workers: int | None = None,
    method_work: MethodWork | None = None,
    checkpoints: dict[str, dict[str, torch.Tensor]] | None = None,
    max_attempts: int = 3,
    watcher: Watcher | None = None,
) -> Placement:
    """Run ``cells`` and ``method_work`` on Ray workers (`bench.scheduler` decides what runs
    where and retries work whose worker died), calling ``on_result`` on the driver as each cell
    finishes. ``checkpoints``: state dicts of trained methods by job key (`bench.training_jobs`),
    shipped once through the object store; workers load them instead of preparing.
    ``watcher`` hears how many workers there are, and when they are warming up."""
    watcher = watcher or Unwatched()
    started = _join(address, watcher)
    try:
        place = placement(max(len(cells), 1), workers)
        watcher.workers(place.workers)
        watcher.note(f"{place.workers} workers starting and loading networks")
        settings = WorkerSettings(**{**settings.__dict__, "threads": place.threads})
        executor = _RayWorkers(place, settings, images, checkpoints or {}, styles)
        try:
            Scheduler(
                executor,
                cells,
                on_result,
                method_work,
                max_attempts,
                on_first_result=lambda: watcher.note(f"running cells on {place.workers} workers"),
            ).run()
        finally:
            executor.close()
        return place
    finally:
        if started:
            _stop()
