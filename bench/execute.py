"""Fan cells out to Ray workers and stream results back as they finish.

The only module that imports Ray. A local Ray instance is started unless ``--ray-address`` /
``RAY_ADDRESS`` names a running cluster. There is one long-lived actor per GPU when the cluster
has GPUs, otherwise one per CPU core (each with its own torch threads); every actor loads its
networks once and serves many cells.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import ray
from ray.exceptions import RayActorError, RayTaskError

from bench.errors import BenchError
from bench.plan import Cell
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

    def __init__(self, settings: WorkerSettings, images: dict[str, np.ndarray]) -> None:
        self.runner = CellRunner(settings, images)

    def run(self, cell: Cell, styles: list[str]) -> CellResult:
        return self.runner.run(cell, styles)


def connect(address: str | None) -> bool:
    """Start or join Ray; returns whether this call started it (and so must stop it)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
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
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ExecutionError(
            f"could not start or join {where}: {exc}. Check the address (ray start --head prints it)"
        ) from exc
    return True


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


def run_cells(
    cells: Sequence[Cell],
    settings: WorkerSettings,
    images: dict[str, np.ndarray],
    styles: list[str],
    on_result: Callable[[CellResult], None],
    address: str | None = None,
    workers: int | None = None,
    max_attempts: int = 3,
) -> Placement:
    """Run ``cells`` on Ray workers, calling ``on_result`` on the driver as each one finishes.

    A worker process that dies (killed, out of memory) is replaced, and its cell is tried again
    on another worker, up to ``max_attempts`` times in all; then the cell is recorded as failed.
    An exception inside a cell is not retried: the worker reports it as the cell's failure.
    """
    started = connect(address)
    try:
        place = placement(len(cells), workers)
        settings = WorkerSettings(**{**settings.__dict__, "threads": place.threads})
        actor_cls = ray.remote(_Worker).options(
            num_cpus=place.cpus_per_worker, num_gpus=place.gpus_per_worker
        )
        images_ref = ray.put(images)

        def new_actor():
            return actor_cls.remote(settings, images_ref)

        idle = [new_actor() for _ in range(place.workers)]
        queue: deque[Cell] = deque(cells)
        attempts: dict[str, int] = {}
        pending: dict = {}
        while queue or pending:
            while queue and idle:
                actor, cell = idle.pop(), queue.popleft()
                attempts[cell.id] = attempts.get(cell.id, 0) + 1
                pending[actor.run.remote(cell, styles)] = (actor, cell)
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                actor, cell = pending.pop(ref)
                try:
                    result = ray.get(ref)
                    idle.append(actor)
                except (RayActorError, RayTaskError) as exc:
                    ray.kill(actor)
                    idle.append(new_actor())
                    if attempts[cell.id] < max_attempts:
                        queue.appendleft(cell)
                        continue
                    reason = str(exc).splitlines()[0][:300]
                    result = CellResult(
                        cell_id=cell.id,
                        status="failed",
                        error=f"worker died {attempts[cell.id]} times running this cell: {reason}",
                    )
                on_result(result)
        for actor in idle:
            ray.kill(actor)
        return place
    finally:
        if started:
            ray.shutdown()
