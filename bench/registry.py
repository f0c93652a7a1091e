"""One small typed registry for methods, metrics and suites.

Built-ins are named by import path and loaded only when asked for, so ``bench ls`` stays fast
and importing the CLI does not import torch. Third-party packages add methods through the
``stylebench.methods`` entry-point group, or a suite names one directly by import path
(``my_package.module:MyMethod``).
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from stylebench.errors import BenchError

T = TypeVar("T")


class UnknownName(BenchError):
    """A name that is not registered."""


class Registry(Generic[T]):
    """Names mapped to lazily imported objects (``"package.module:attribute"``)."""

    def __init__(self, kind: str, builtins: dict[str, str], group: str | None = None) -> None:
        self.kind = kind
        self._paths = dict(builtins)
        self._group = group
        self._loaded: dict[str, T] = {}

    def _all_paths(self) -> dict[str, str]:
        paths = dict(self._paths)
        if self._group:
            for ep in entry_points(group=self._group):
                paths.setdefault(ep.name, ep.value)
        return paths

    def names(self) -> list[str]:
        return sorted(self._all_paths())

    def get(self, name: str) -> T:
        if name in self._loaded:
            return self._loaded[name]
        paths = self._all_paths()
        if name not in paths and ":" in name:
            paths[name] = name
        if name not in paths:
            close = difflib.get_close_matches(name, paths, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UnknownName(
                f"unknown {self.kind} {name!r}: {hint}known {self.kind}s: {', '.join(sorted(paths))}"
            )
        module, _, attribute = paths[name].partition(":")
        obj: Any = getattr(importlib.import_module(module), attribute)
        self._loaded[name] = obj
        return obj


METHODS: Registry[Any] = Registry(
    "method",
    {
        "gatys": "stylebench.methods.gatys:Gatys",
        "improved_gatys": "stylebench.methods.improved_gatys:ImprovedGatys",
        "semantic": "stylebench.methods.semantic:Semantic",
        "johnson": "stylebench.methods.johnson:Johnson",
        "cin": "stylebench.methods.cin:CIN",
        "ghiasi": "stylebench.methods.ghiasi:Ghiasi",
        "cyclegan": "stylebench.methods.cyclegan:CycleGAN",
    },
    group="stylebench.methods",
)

METRICS: Registry[Any] = Registry(
    "metric",
    {
        "content_loss": "stylebench.metrics.perceptual:ContentLoss",
        "style_loss": "stylebench.metrics.perceptual:StyleLoss",
        "lpips": "stylebench.metrics.perceptual_distance:LPIPS",
        "lpips_vgg": "stylebench.metrics.perceptual_distance:LPIPSVGG",
        "cfsd": "stylebench.metrics.cfsd:CFSD",
        "fid": "stylebench.metrics.sets:FID",
        "kid": "stylebench.metrics.sets:KID",
        "fid_infinity": "stylebench.metrics.sets:FIDInfinity",
        "artfid": "stylebench.metrics.sets:ArtFID",
        "artfid_infinity": "stylebench.metrics.sets:ArtFIDInfinity",
        "latency": "stylebench.metrics.runtime:Latency",
        "peak_memory": "stylebench.metrics.runtime:PeakMemoryUse",
        "throughput": "stylebench.metrics.runtime:Throughput",
        "prepare_time": "stylebench.metrics.runtime:PrepareTime",
    },
    group="stylebench.metrics",
)

SUITES: Registry[Any] = Registry(
    "suite", {"smoke": "stylebench.suites:SMOKE", "monet": "stylebench.suites:MONET"}
)
