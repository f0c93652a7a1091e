"""From a suite to the list of cells to compute, checked before any compute is spent."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import ValidationError

from stylebench.errors import BenchError
from stylebench.methods.base import Method, MethodConfig, resolve_config
from stylebench.registry import METHODS, METRICS, UnknownName
from stylebench.suites.load import ImageRef, Suite
from stylebench.suites.schema import SuiteSpec


class PlanError(BenchError):
    """A suite whose methods, settings or metrics do not fit together."""


#: The style of every cell of a domain method (``needs.style == "domain"``, e.g. CycleGAN): such
#: a method maps each content image to the style *set* it learnt, not to one style image, so it
#: gets one cell per content image. No image key can equal it (keys are ``<role>-<name>``).
DOMAIN_STYLE = "domain"

#: Which way a domain method translates: photos to its style domain, or back.
Direction = Literal["photo_to_style", "style_to_photo"]
#: A domain method that translates both ways (``needs.both_ways``) is planned a second time when
#: its suite has a ``reverse`` set: as ``<name>_reverse``, the same settings with ``direction:
#: style_to_photo``, on the reverse set's images. A second plan entry (rather than a second kind
#: of cell) gives that direction its own set metrics, record summary, MLflow run and grid column
#: through the paths every method takes; the training job is shared (``direction`` is not in
#: its key).
REVERSE_SUFFIX = "_reverse"


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

    def direction(self, method: str) -> Direction | None:
        """Which way a domain method translates (None for per-pair methods)."""
        if not is_domain(method):
            return None
        return getattr(self.methods[method], "direction", "photo_to_style")

    def inputs(self, method: str) -> tuple[ImageRef, ...]:
        """The content images of a method's cells: the reverse set's style-domain images for
        a reverse entry, the suite's content otherwise."""
        return self.suite.reverse_content if is_reverse(method) else self.suite.content

    def reference_set(self, method: str) -> tuple[ImageRef, ...]:
        """What a method's outputs are compared with as a set (FID/KID, a domain method's
        style_loss): photos for a reverse entry, the suite's reference set otherwise."""
        return self.suite.reverse_reference if is_reverse(method) else self.suite.reference_set

    def cell_cost(self, cell: Cell) -> int:
        """A cell's expected cost in loss evaluations: ``steps`` x ``phases`` for optimisation
        methods (``iterative``), 1 for a feed-forward pass."""
        if not method_class(cell.method).iterative:
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
            return method_class(cell.method).iterative, self.cell_cost(cell)

        return sorted(cells, key=cost, reverse=True)

    @property
    def config_hash(self) -> str:
        canonical = json.dumps(self.resolved_config(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def method_of(name: str) -> str:
    """The registered method a plan entry runs: ``cyclegan_reverse`` runs ``cyclegan``; every
    other entry is its method's name."""
    base = name.removesuffix(REVERSE_SUFFIX)
    if base == name:
        return name
    try:
        return base if METHODS.get(base).needs.both_ways else name
    except UnknownName:
        return name


def method_class(name: str) -> type[Method]:
    """The method class a plan entry runs (`method_of`)."""
    return METHODS.get(method_of(name))


def is_reverse(name: str) -> bool:
    """Whether a plan entry is a domain method's style -> photo direction."""
    return method_of(name) != name


def is_domain(method: str) -> bool:
    """Whether a plan entry maps content to a style domain, or back (one cell per content)."""
    return method_class(method).needs.style == "domain"


def can_blend(method: str) -> bool:
    """Whether a plan entry runs on the suite's blends (``needs.blends``, never a domain method)."""
    return method_class(method).needs.blends and not is_domain(method)


def blend_lines(plan: Plan) -> list[str]:
    """What ``bench validate`` says about the suite's blends: each blend's parts and weights,
    then one line per method that cannot blend (it is not run on blend cells)."""
    blends = plan.suite.blends
    if not blends:
        return []
    names = {ref.key: ref.name for ref in plan.suite.style}
    lines = [f"blend {blend.key}: {blend.describe(names)}" for blend in blends]
    lines += [
        f"{name}: cannot blend styles; not run on the {len(blends)} blend(s)"
        for name in plan.methods
        if not can_blend(name)
    ]
    return lines


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
    if is_reverse(name):
        return f"{name}: the {config.direction} generator of {method_of(name)}'s training"
    fields = config.model_dump()
    parts = [f"preset {fields.get('preset')}"]
    parts += [f"{key} {fields[key]:,}" for key in ("steps", "phases") if key in fields]
    if method_class(name).needs.training:
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
    methods: dict[str, MethodConfig] = {}
    for name in names:
        if is_reverse(name):
            raise PlanError(
                f"{name} is planned from {method_of(name)} when the suite has a reverse set: "
                f"name {method_of(name)} instead"
            )
        methods[name] = _method_config(name, _settings(spec, name))
        if suite.reverse_content and _translates_back(name, methods[name]):
            back = {**_settings(spec, name), "direction": "style_to_photo"}
            methods[name + REVERSE_SUFFIX] = _method_config(name, back)
    for name, config in methods.items():
        try:
            config.check_image_size(spec.image_size)
        except ValueError as exc:
            raise PlanError(f"methods.{name} at image_size {spec.image_size}: {exc}") from None
    requested = (
        spec.metrics
        if spec.metrics is not None
        else [name for name, cls in METRICS.usable().items() if cls.info.default]
    )
    metrics = tuple(_with_requirements(requested))
    cells = []
    plan = Plan(suite=suite, methods=methods, metrics=metrics, cells=())
    for name in methods:
        styles = [DOMAIN_STYLE] if is_domain(name) else [style.key for style in suite.style]
        styles += [blend.key for blend in suite.blends] if can_blend(name) else []
        for content in plan.inputs(name):
            for style in styles:
                cell_id = f"{name}/{content.key}/{style}"
                cells.append(Cell(cell_id, name, content.key, style, cell_seed(spec.seed, cell_id)))
    return replace(plan, cells=tuple(cells))


def _translates_back(name: str, config: MethodConfig) -> bool:
    """Whether a method entry also gets its style -> photo entry in a suite with a ``reverse``
    set: a domain method that translates both ways, trained by the run. A checkpoint file is
    left out: a reference file holds one generator, which the other direction would misuse."""
    if not METHODS.get(name).needs.both_ways or getattr(config, "checkpoint", None):
        return False
    if getattr(config, "direction", "photo_to_style") != "photo_to_style":
        raise PlanError(
            f"methods.{name}.direction: the suite's reverse set plans style_to_photo as "
            f"{name}{REVERSE_SUFFIX}; leave {name} at photo_to_style"
        )
    return True
