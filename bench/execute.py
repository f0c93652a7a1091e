"""Fan cells out to Ray workers and stream results back as they finish.

The only module that imports Ray. A local Ray instance is started unless ``--ray-address`` /
``RAY_ADDRESS`` names a running cluster. There is one long-lived actor per GPU when the cluster
has GPUs, otherwise one per CPU core (each with its own torch threads); every actor loads its
networks once and serves many cells. Training jobs of trained methods run before the cells,
each as one Ray task, so a network is trained once per (method, style set), not once per worker.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import ray
import torch
from ray.exceptions import RayActorError, RayTaskError

from bench.errors import BenchError
from bench.plan import Cell
from bench.train_task import TrainedCheckpoint, TrainingJob, TrainingSettings, train_job
from bench.worker import CellResult, CellRunner, WorkerSettings


class ExecutionError(BenchError):
    """Ray could not be started or reached."""


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


def connect(address: str | None) -> bool:
    """Start or join Ray; returns whether this call started it (and so must stop it).

    Without an address a new local instance is started (``"local"``), never one that happens to
    run on the machine already (another user's, or another run's).
    """
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=True,
            logging_level="WARNING",
            configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address != "local" else "a local Ray instance"
        raise ExecutionError(
            f"could not start or join {where}: {exc}. Check the address (ray start --head prints it)"
        ) from exc
    return True


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
            ray.shutdown()
        _SESSION.update(active=False, started=False)


def _join(address: str | None) -> bool:
    """Connect; returns whether the caller must stop Ray itself (not inside a `session`)."""
    started = connect(address)
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


def run_training(
    jobs: Sequence[TrainingJob],
    settings: TrainingSettings,
    styles: dict[str, np.ndarray],
    address: str | None = None,
    workers: int | None = None,
) -> list[TrainedCheckpoint]:
    """Train each job once, as its own Ray task (one GPU each, or a share of the CPU cores)."""
    started = _join(address)
    try:
        place = placement(len(jobs), workers)
        task = ray.remote(train_job).options(
            num_cpus=place.threads if not place.gpus_per_worker else 1,
            num_gpus=place.gpus_per_worker,
            max_retries=0,
        )
        task_settings = TrainingSettings(**{**settings.__dict__, "threads": place.threads})
        styles_ref = ray.put(styles)
        refs = {task.remote(job, task_settings, styles_ref): job for job in jobs}
        results = []
        for ref, job in refs.items():
            try:
                results.append(ray.get(ref))
            except (RayActorError, RayTaskError) as exc:
                results.append(TrainedCheckpoint(key=job.key, error=f"training task died: {exc}"))
        return results
    finally:
        if started:
            ray.shutdown()


def run_cells(
    cells: Sequence[Cell],
    settings: WorkerSettings,
    images: dict[str, np.ndarray],
    styles: list[str],
    on_result: Callable[[CellResult], None],
    address: str | None = None,
    workers: int | None = None,
    checkpoints: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Placement:
    """Run ``cells`` on Ray workers, calling ``on_result`` on the driver as each one finishes.

    ``checkpoints``: state dicts of trained methods by job key (`bench.training`), shipped once
    through the object store; workers load them instead of preparing.
    """
    started = _join(address)
    try:
        place = placement(len(cells), workers)
        settings = WorkerSettings(**{**settings.__dict__, "threads": place.threads})
        actor_cls = ray.remote(_Worker).options(
            num_cpus=place.cpus_per_worker, num_gpus=place.gpus_per_worker
        )
        images_ref = ray.put(images)
        checkpoints_ref = ray.put(checkpoints or {})
        actors = [
            actor_cls.remote(settings, images_ref, checkpoints_ref) for _ in range(place.workers)
        ]
        queue, idle, pending = deque(cells), list(actors), {}
        while queue or pending:
            while queue and idle:
                actor, cell = idle.pop(), queue.popleft()
                pending[actor.run.remote(cell, styles)] = (actor, cell)
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                actor, cell = pending.pop(ref)
                try:
                    result = ray.get(ref)
                    idle.append(actor)
                except (RayActorError, RayTaskError) as exc:
                    result = CellResult(
                        cell_id=cell.id, status="failed", error=f"worker died: {exc}"
                    )
                    actors.remove(actor)
                    if not actors:
                        raise ExecutionError("every worker died; see the errors above") from exc
                on_result(result)
        for actor in actors:
            ray.kill(actor)
        return place
    finally:
        if started:
            ray.shutdown()
