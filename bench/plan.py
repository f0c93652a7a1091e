"""From a suite to the list of cells to compute, checked before any compute is spent."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from stylebench.errors import BenchError
from stylebench.methods.base import MethodConfig, resolve_config
from stylebench.registry import METHODS, METRICS
from stylebench.suites.load import Suite
from stylebench.suites.schema import SuiteSpec


class PlanError(BenchError):
    """A suite whose methods, settings or metrics do not fit together."""


#: The style of every cell of a domain method (``needs.style == "domain"``, e.g. CycleGAN): such
#: a method maps each content image to the style *set* it learnt, not to one style image, so it
#: gets one cell per content image. No image key can equal it (keys are ``<role>-<name>``).
DOMAIN_STYLE = "domain"


@dataclass(frozen=True)
class Cell:
    """One unit of work: a method applied to one content image and one style image, or for a
    domain method to one content image (``style`` is then `DOMAIN_STYLE`).

    ``job``: for trained methods, the key of the training job whose checkpoint the cell uses.
    """

    id: str
    method: str
    content: str
    style: str
    seed: int
    job: str | None = None


@dataclass(frozen=True)
class Plan:
    suite: Suite
    methods: dict[str, MethodConfig]
    metrics: tuple[str, ...]
    cells: tuple[Cell, ...]

    def resolved_config(self) -> dict[str, Any]:
        """Everything that decides the numbers, in a canonical, hashable form."""
        spec = self.suite.spec
        return {
            "suite": {
                "name": spec.name,
                "version": spec.version,
                "source": self.suite.source,
                "file_list_hash": self.suite.file_list_hash,
                "image_size": spec.image_size,
                "seed": spec.seed,
            },
            "weights": spec.weights,
            "methods": {name: cfg.model_dump(mode="json") for name, cfg in self.methods.items()},
            "metrics": list(self.metrics),
        }

    def cell_cost(self, cell: Cell) -> int:
        """A cell's expected cost in loss evaluations: ``steps`` x ``phases`` for optimisation
        methods (``iterative``), 1 for a feed-forward pass."""
        if not METHODS.get(cell.method).iterative:
            return 1
        config = self.methods[cell.method]
        return max(1, getattr(config, "steps", 1)) * max(1, getattr(config, "phases", 1))

    def longest_first(self, cells: list[Cell]) -> list[Cell]:
        """``cells`` with the most expensive first, so the slow ones start while other workers
        take the quick ones and no long cell is left to start last and hold up the run's end.

        Optimisation methods (``iterative``) before feed-forward ones, and among those more loss
        evaluations (`cell_cost`) first; ties keep plan order.
        """

        def cost(cell: Cell) -> tuple[bool, int]:
            return METHODS.get(cell.method).iterative, self.cell_cost(cell)

        return sorted(cells, key=cost, reverse=True)

    @property
    def config_hash(self) -> str:
        canonical = json.dumps(self.resolved_config(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def is_domain(method: str) -> bool:
    """Whether a registered method maps content to a style domain (one cell per content)."""
    return METHODS.get(method).needs.style == "domain"


def cell_seed(suite_seed: int, cell_id: str) -> int:
    """A seed per cell that depends only on the suite seed and the cell, never on scheduling."""
    digest = hashlib.sha256(f"{suite_seed}:{cell_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


#: How a broken bound reads, by pydantic error type (its own message for the rest).
BOUNDS = {
    "less_than_equal": "is more than {le}",
    "less_than": "is not less than {lt}",
    "greater_than": "is not more than {gt}",
    "greater_than_equal": "is less than {ge}",
    "finite_number": "is not a finite number",
}


def _setting_problem(name: str, error: Any) -> str:
    """``methods.gatys.steps: 1000000000 is more than 1000000``: the key, the value, the bound."""
    key = f"methods.{name}.{'.'.join(str(p) for p in error['loc'])}"
    bound = BOUNDS.get(error["type"])
    if bound is None:
        return f"{key}: {error['msg']}"
    return f"{key}: {error['input']!r} {bound.format(**error.get('ctx', {}))}"


def _method_config(name: str, settings: dict[str, Any]) -> MethodConfig:
    method = METHODS.get(name)
    try:
        return resolve_config(method, settings)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(_setting_problem(name, e) for e in errors)
        bounded = any(e["type"] in BOUNDS for e in errors)
        hint = " (values only a mistake gives: see README, 'Bounds on settings')" if bounded else ""
        raise PlanError(f"invalid settings for method {name!r}: {problems}{hint}") from None
    except ValueError as exc:
        raise PlanError(f"methods.{name}.preset: {exc}") from None


def _settings(spec: SuiteSpec, name: str) -> dict[str, Any]:
    """A method's settings in a suite: what it lists, on top of its default preset if any."""
    listed = dict(spec.methods.get(name) or {})
    if spec.default_preset and "preset" not in listed:
        listed["preset"] = spec.default_preset
    return listed


def budget(name: str, config: Any) -> str:
    """One line on what a method will spend: its preset and its steps, training size and batch
    where it has them (printed before any compute)."""
    fields = config.model_dump()
    parts = [f"preset {fields.get('preset')}"]
    parts += [f"{key} {fields[key]:,}" for key in ("steps", "phases") if key in fields]
    if METHODS.get(name).needs.training:
        parts += [f"{key} {fields[key]}" for key in ("image_size", "batch_size") if key in fields]
    return f"{name}: {', '.join(parts)}"


def _with_requirements(names: list[str]) -> list[str]:
    """The metrics asked for, each preceded by any it is computed from (ArtFID needs LPIPS)."""
    resolved: list[str] = []
    for name in names:
        for needed in (*METRICS.get(name).info.requires, name):
            if needed not in resolved:
                resolved.append(needed)
    return resolved


def make_plan(suite: Suite, only_methods: list[str] | None = None) -> Plan:
    """Resolve methods and metrics of ``suite`` (optionally only ``only_methods``) into cells."""
    spec = suite.spec
    names = only_methods if only_methods else list(spec.methods)
    if not only_methods and spec.default_preset:
        names += [name for name in METHODS.usable() if name not in names]
    if not names:
        raise PlanError(f"suite {spec.name!r} lists no methods; add some or pass --methods")
    methods = {name: _method_config(name, _settings(spec, name)) for name in names}
    for name, config in methods.items():
        try:
            config.check_image_size(spec.image_size)
        except ValueError as exc:
            raise PlanError(f"methods.{name} at image_size {spec.image_size}: {exc}") from None
    requested = spec.metrics if spec.metrics is not None else list(METRICS.usable())
    metrics = tuple(_with_requirements(requested))
    cells = []
    for name in methods:
        styles = [DOMAIN_STYLE] if is_domain(name) else [style.key for style in suite.style]
        for content in suite.content:
            for style in styles:
                cell_id = f"{name}/{content.key}/{style}"
                cells.append(Cell(cell_id, name, content.key, style, cell_seed(spec.seed, cell_id)))
    return Plan(suite=suite, methods=methods, metrics=metrics, cells=tuple(cells))
