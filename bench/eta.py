"""Time left, from the plan's own cost model corrected by what has finished.

Every piece of planned work has a cost in units the plan knows before anything runs: a cell's
loss evaluations (optimisation steps x coarse-to-fine phases; 1 for a feed-forward pass), a
training job's steps. Work of one kind (a method) costs about the same seconds per unit, so the
seconds per unit measured on its finished work (and on the measured part of work under way)
price what is left of it; a kind with nothing measured yet borrows the rate of all measured
work. Unlike a window over recent completions (rich's 30 s speed estimate), this gives a number
as soon as anything is measured, and long cells that finish rarely do not blank it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Item:
    kind: str
    units: float
    done_units: float = 0.0
    seconds: float = 0.0
    finished: bool = False


class CostModel:
    """Planned work items (``id -> (kind, units)``) run by ``workers`` in parallel."""

    def __init__(self, items: dict[str, tuple[str, float]], workers: int = 1) -> None:
        self.items = {
            key: _Item(kind, max(float(units), 1.0)) for key, (kind, units) in items.items()
        }
        self.workers = max(1, workers)

    def measured(self, key: str, done_units: float, seconds: float) -> None:
        """Work under way: ``done_units`` of item ``key`` took ``seconds`` (worker time)."""
        item = self.items[key]
        item.done_units, item.seconds = min(done_units, item.units), seconds

    def finished(self, key: str, seconds: float | None) -> None:
        """Item ``key`` is done; ``seconds``: the worker time it took (None: not measured, e.g.
        a failed cell, which then prices nothing)."""
        item = self.items[key]
        item.finished = True
        item.done_units, item.seconds = (item.units, seconds) if seconds is not None else (0, 0)

    def rate(self, kind: str | None = None) -> float | None:
        """Measured seconds per unit of ``kind`` (None: every kind), or None if none measured."""
        mine = [i for i in self.items.values() if i.done_units and kind in (None, i.kind)]
        units = sum(i.done_units for i in mine)
        return sum(i.seconds for i in mine) / units if units else None

    def seconds_left(self) -> float | None:
        """Wall seconds until every item is done, or None while nothing has been measured.

        The work left is spread over the workers, but no estimate is shorter than the longest
        single item left (one long job on an otherwise idle cluster)."""
        overall = self.rate()
        if overall is None:
            return None
        left = []
        for item in self.items.values():
            if not item.finished:
                rate = self.rate(item.kind) or overall
                left.append((item.units - item.done_units) * rate)
        if not left:
            return 0.0
        return max(sum(left) / min(self.workers, len(left)), max(left))
