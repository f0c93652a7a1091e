"""One small typed registry for methods, metrics, encoders and suites.

Built-ins are named by import path and loaded only when asked for, so ``bench ls`` stays fast
and importing the CLI does not import torch. Third-party packages add to each through its
entry-point group (``stylebench.methods``, ``stylebench.metrics``, ``stylebench.encoders``,
``stylebench.suites``), or a suite names a method directly by import path
(``my_package.module:MyMethod``).

What a registry loads is checked against its contract (the ``contract_problems`` function of
`stylebench.methods.base`, `stylebench.metrics.base`, `stylebench.methods.core.encoders` and
`stylebench.suites`): a plugin that cannot be imported, or lacks a declaration the harness
relies on, is one `PluginError` naming the distribution and entry point, and costs its own row
in ``bench ls`` and nothing else.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from stylebench.errors import BenchError

T = TypeVar("T")


class UnknownName(BenchError):
    """A name that is not registered."""


class PluginError(BenchError):
    """A registered object that cannot be loaded or does not honour its contract."""


def one_line(exc: BaseException) -> str:
    """An exception as one short line: a plugin's error may span pages, its row in
    ``bench ls`` may not."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


@dataclass(frozen=True)
class Entry:
    """Where a registered name comes from: its import path and its origin (``built-in``, a
    distribution ``name==version``, or ``import path`` for a name given as one)."""

    name: str
    target: str
    origin: str

    def describe(self) -> str:
        if self.origin == "built-in":
            return f"built-in {self.target}"
        if self.origin == "import path":
            return self.target
        return f"entry point {self.name} = {self.target} of {self.origin}"


class Registry(Generic[T]):
    """Names mapped to lazily imported objects (``"package.module:attribute"``)."""

    def __init__(
        self,
        kind: str,
        builtins: dict[str, str],
        group: str | None = None,
        contract: str | None = None,
    ) -> None:
        self.kind = kind
        self._builtins = dict(builtins)
        self._group = group
        self._contract = contract  # "module:function" returning a list of problems
        self._loaded: dict[str, T] = {}

    def entries(self) -> dict[str, Entry]:
        """Every registered name: built-ins first, then installed plugins (a built-in's name
        cannot be taken over)."""
        found = {n: Entry(n, target, "built-in") for n, target in self._builtins.items()}
        if self._group:
            for ep in entry_points(group=self._group):
                dist = f"{ep.dist.name}=={ep.dist.version}" if ep.dist else "unknown distribution"
                found.setdefault(ep.name, Entry(ep.name, ep.value, dist))
        return found

    def names(self) -> list[str]:
        """Built-ins in their declared order, then plugins."""
        return list(self.entries())

    def builtin_names(self) -> list[str]:
        """The names stylebench itself defines (what its own tests run over)."""
        return sorted(self._builtins)

    def entry(self, name: str) -> Entry:
        """Where ``name`` comes from (an import path stands for itself); `UnknownName` with
        the closest known name when it is not registered."""
        entries = self.entries()
        if name in entries:
            return entries[name]
        if ":" in name:
            return Entry(name, name, "import path")
        close = difflib.get_close_matches(name, entries, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownName(
            f"unknown {self.kind} {name!r}: {hint}known {self.kind}s: {', '.join(sorted(entries))}"
        )

    def get(self, name: str) -> T:
        if name not in self._loaded:
            self._loaded[name] = self._load(self.entry(name))
        return self._loaded[name]

    def _load(self, entry: Entry) -> T:
        module, _, attribute = entry.target.partition(":")
        try:
            obj: Any = getattr(importlib.import_module(module), attribute)
        except Exception as exc:  # a plugin's import can fail in any way
            raise PluginError(
                f"{self.kind} {entry.name!r} ({entry.describe()}) failed to load: {one_line(exc)}"
            ) from None
        problems = self._check()(obj)
        if problems:
            raise PluginError(
                f"{self.kind} {entry.name!r} ({entry.describe()}) does not honour the "
                f"{self.kind} contract: {'; '.join(problems)}"
            )
        return obj

    def _check(self) -> Callable[[Any], list[str]]:
        if self._contract is None:
            return lambda obj: []
        module, _, function = self._contract.partition(":")
        return getattr(importlib.import_module(module), function)

    def loadable(self) -> tuple[dict[str, T], dict[str, str]]:
        """Every registered object that loads, and the error of each one that does not: for
        listings and defaults ("every method"), where one broken plugin must not stop the rest."""
        loaded: dict[str, T] = {}
        broken: dict[str, str] = {}
        for name in self.names():
            try:
                loaded[name] = self.get(name)
            except PluginError as exc:
                broken[name] = str(exc)
        return loaded, broken

    def declared(self, wanted: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """The ``wanted`` class attributes of every entry, read from source where they are
        literal there (no import: ``bench ls`` stays fast), else from the imported class; and
        the error of each entry that cannot be loaded. Values read from source are plain
        literals (``needs`` as a dict of its arguments)."""
        from dataclasses import asdict, is_dataclass

        from stylebench import declarations

        found: dict[str, dict[str, Any]] = {}
        broken: dict[str, str] = {}
        for name, entry in self.entries().items():
            values = declarations.read(entry.target, wanted)
            if values is None:
                try:
                    obj = self.get(name)
                except PluginError as exc:
                    broken[name] = str(exc)
                    continue
                values = {key: getattr(obj, key, None) for key in wanted}
                values = {k: asdict(v) if is_dataclass(v) else v for k, v in values.items()}
            found[name] = values
        return found, broken

    def usable(self) -> dict[str, T]:
        """Every registered object that loads; one ``warning:`` line on stderr for each that
        does not (left out of "every method" defaults; naming it explicitly is an error)."""
        loaded, broken = self.loadable()
        for error in broken.values():
            print(f"warning: {error}; left out", file=sys.stderr)
        return loaded


METHODS: Registry[Any] = Registry(
    "method",
    {
        "gatys": "stylebench.methods.gatys:Gatys",
        "improved_gatys": "stylebench.methods.improved_gatys:ImprovedGatys",
        "semantic": "stylebench.methods.semantic:Semantic",
        "johnson": "stylebench.methods.johnson:Johnson",
        "cin": "stylebench.methods.cin:CIN",
        "ghiasi": "stylebench.methods.ghiasi:Ghiasi",
        "adain": "stylebench.methods.adain:AdaIN",
        "sanet": "stylebench.methods.sanet:SANet",
        "adaattn": "stylebench.methods.adaattn:AdaAttN",
        "wct": "stylebench.methods.wct:WCT",
        "stytr2": "stylebench.methods.stytr2:StyTr2",
        "cyclegan": "stylebench.methods.cyclegan:CycleGAN",
    },
    group="stylebench.methods",
    contract="stylebench.methods.base:contract_problems",
)

METRICS: Registry[Any] = Registry(
    "metric",
    {
        "content_loss": "stylebench.metrics.feature_losses:ContentLoss",
        "style_loss": "stylebench.metrics.feature_losses:StyleLoss",
        "lpips": "stylebench.metrics.perceptual_distance:LPIPS",
        "lpips_vgg": "stylebench.metrics.perceptual_distance:LPIPSVGG",
        "lpips_gray": "stylebench.metrics.perceptual_distance:LPIPSGray",
        "cfsd": "stylebench.metrics.cfsd:CFSD",
        "histogram_loss": "stylebench.metrics.color_histogram:HistogramLoss",
        "clip_style": "stylebench.metrics.embedding_scores:CLIPStyle",
        "csd_style": "stylebench.metrics.embedding_scores:CSDStyle",
        "csd_style_csls": "stylebench.metrics.embedding_scores:CSDStyleCSLS",
        "dino_content": "stylebench.metrics.embedding_scores:DINOContent",
        "fid": "stylebench.metrics.sets:FID",
        "kid": "stylebench.metrics.sets:KID",
        "fid_infinity": "stylebench.metrics.sets:FIDInfinity",
        "artfid": "stylebench.metrics.sets:ArtFID",
        "artfid_infinity": "stylebench.metrics.sets:ArtFIDInfinity",
        "lpips_styleid": "stylebench.metrics.styleid_protocol:LPIPSStyleID",
        "lpips_gray_styleid": "stylebench.metrics.styleid_protocol:LPIPSGrayStyleID",
        "fid_styleid": "stylebench.metrics.styleid_protocol:FIDStyleID",
        "artfid_styleid": "stylebench.metrics.styleid_protocol:ArtFIDStyleID",
        "lpips_reference": "stylebench.metrics.styleid_protocol:LPIPSReference",
        "fid_reference": "stylebench.metrics.styleid_protocol:FIDReference",
        "artfid_reference": "stylebench.metrics.styleid_protocol:ArtFIDReference",
        "latency": "stylebench.metrics.runtime:Latency",
        "peak_memory": "stylebench.metrics.runtime:PeakMemoryUse",
        "throughput": "stylebench.metrics.runtime:Throughput",
        "prepare_time": "stylebench.metrics.runtime:PrepareTime",
    },
    group="stylebench.metrics",
    contract="stylebench.metrics.base:contract_problems",
)

ENCODERS: Registry[Any] = Registry(
    "encoder",
    {
        "vgg16": "stylebench.methods.core.encoders:VGG16",
        "vgg19": "stylebench.methods.core.encoders:VGG19",
        "inception_v3": "stylebench.methods.core.inception_trunk:InceptionV3",
        "vgg_normalised": "stylebench.methods.core.normalised_vgg:NormalisedVGG19",
    },
    group="stylebench.encoders",
    contract="stylebench.methods.core.encoders:contract_problems",
)

SUITES: Registry[Any] = Registry(
    "suite",
    {
        "smoke": "stylebench.suites:SMOKE",
        "monet": "stylebench.suites:MONET",
        "styleid": "stylebench.suites:STYLEID",
    },
    group="stylebench.suites",
    contract="stylebench.suites:contract_problems",
)
