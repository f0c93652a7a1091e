"""What runs on a worker: networks loaded once, then cell after cell of stylize-and-score, and
per-method work (set metrics such as FID) once a method's cells are done.

`CellRunner` is plain Python so it can be tested without Ray; `bench.execute` wraps it in a Ray
actor. Neither a cell nor a method job ever raises: a failure comes back as a result with its
error, so one bad cell never takes down a run.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from stylebench.environment import cpu_name
from stylebench.images import to_uint8
from stylebench.methods.base import (
    Guides,
    MethodContext,
    PrepareData,
    StyleBlend,
    resolve_config,
)
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.base import ImageMetric, MetricContext, StyleDomain
from stylebench.metrics.reference_stats import ReferenceSet
from stylebench.metrics.runtime import measure, timed
from stylebench.metrics.sets import SetMetric, SetScorer
from stylebench.paths import cache_dir
from stylebench.plan import Cell, is_domain, method_class
from stylebench.registry import METRICS
from stylebench.suites.guides import guide_key


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker of a run needs to know (small: sent once per worker)."""

    weights: str
    seed: int
    methods: dict[str, dict[str, Any]]
    metrics: tuple[str, ...]
    threads: int = 1
    #: Keys of the style set that each domain method's outputs are scored against (its reference
    #: set: the suite's ``reference`` images, else its style images; photos for a reverse entry).
    domain: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The suite's blends by their key: (style key, weight) of each part.
    blends: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)


@dataclass
class CellResult:
    """The outcome of one cell, sent back to the driver."""

    cell_id: str
    status: str
    output: np.ndarray | None = None
    scores: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    prepare_time: float | None = None
    error: str | None = None
    traceback: str | None = None
    device: str = ""
    worker: str = ""
    weights: list[dict] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    #: Seconds this cell spent on the worker: ``setup`` (building the method and loading the
    #: networks it and the metrics first needed; 0 once loaded), ``prepare``, ``stylize`` (every
    #: call of the latency protocol, warm-up included) and ``score`` (per-image metrics and the
    #: output's Inception features).
    timings: dict[str, float] = field(default_factory=dict)
    #: The output's Inception pool3 features [2048] (float64) when the plan has set metrics:
    #: extracted here, cell by cell, so that a method's set metrics at the end only compare
    #: statistics instead of running Inception over every output while other workers wait.
    features: np.ndarray | None = None
    #: Per art-Inception view, [2, 2048] features of the output and of its style image, when a
    #: planned metric pairs them (``fid_styleid``, ``fid_reference``); empty for domain methods.
    pairs: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferenceSpec:
    """The reference set for FID/KID: keys of its images (sent to every worker with the inputs)
    and what identifies them for the statistics cache."""

    keys: tuple[str, ...]
    files: tuple[tuple[str, str], ...]
    preprocess: str
    image_size: int


@dataclass(frozen=True)
class ThroughputSpec:
    """The batch throughput is measured on: content images, the style image they all get, and
    the style set the method is prepared for (if this worker has not prepared it yet), or for a
    trained method the training job whose checkpoint it loads."""

    contents: tuple[str, ...]
    style: str
    styles: tuple[str, ...]
    job: str | None = None


@dataclass
class MethodJob:
    """Work on a method's whole output set, once its cells are done."""

    method: str
    #: [N, 2048] Inception features of the method's outputs, from its cells, in cell-id order.
    features: np.ndarray
    image_scores: dict[str, list[float]]
    reference: ReferenceSpec
    throughput: ThroughputSpec | None = None
    #: Per art-Inception view, [N, 2, 2048] features of the outputs and their style images (see
    #: `CellResult.pairs`), in the order of ``features``; empty where not planned.
    pairs: dict[str, np.ndarray] = field(default_factory=dict)
    #: False for a throughput-only job, which runs before the method's cells are done.
    set_metrics: bool = True


@dataclass
class MethodResult:
    """The outcome of a method job, sent back to the driver."""

    method: str
    set_scores: dict[str, dict] = field(default_factory=dict)
    set_settings: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None
    device: str = ""
    worker: str = ""
    weights: list[dict] = field(default_factory=list)
    #: Seconds of the job on the worker: ``throughput`` (the batch and its protocol's repeats,
    #: after preparing the method if this worker had not), ``setup`` (loading the set metrics'
    #: network), ``set_metrics`` (features and scores).
    timings: dict[str, float] = field(default_factory=dict)


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with the torch threads in use (as records show it)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({cpu_name()}, {torch.get_num_threads()} threads)"


class CellRunner:
    """Holds networks and prepared methods for the lifetime of a worker."""

    def __init__(
        self,
        settings: WorkerSettings,
        images: dict[str, np.ndarray],
        checkpoints: dict[str, dict[str, torch.Tensor]] | None = None,
    ) -> None:
        self.settings = settings
        self.checkpoints = checkpoints or {}
        self.device = pick_device()
        if self.device.type == "cpu":
            torch.set_num_threads(settings.threads)
        self.images = images
        self.weights = WeightsSource.parse(settings.weights, seed=settings.seed)
        self._encoders: dict[str, Any] = {}
        self._methods: dict[tuple[str, str | None], Any] = {}
        self._metrics: dict[str, Any] = {}
        self._set_scorer: SetScorer | None = None
        self._domains: dict[str, StyleDomain] = {}
        self._warm: set[str] = set()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.metric_context = MetricContext(
            device=self.device, weights=self.weights, encoder=self.encoder, cache=cache_dir()
        )

    def encoder(self, arch: str) -> Any:
        if arch not in self._encoders:
            self._encoders[arch] = load_encoder(arch, self.weights).to(self.device)
        return self._encoders[arch]

    def tensor(self, key: str) -> torch.Tensor:
        array = self.images[key]
        return (
            torch.from_numpy(array.copy())
            .permute(2, 0, 1)
            .float()
            .div(255)
            .unsqueeze(0)
            .to(self.device)
        )

    def _method(self, name: str, job: str | None, styles: list[str]) -> tuple[Any, float | None]:
        """A prepared method: trained methods load their job's checkpoint (their training cost
        is recorded once per job by the driver); others prepare here, timed."""
        if (name, job) in self._methods:
            return self._methods[name, job], None
        cls = method_class(name)
        config = resolve_config(cls, self.settings.methods[name])
        context = MethodContext(device=self.device, seed=self.settings.seed, encoder=self.encoder)
        method = cls(config, context)
        seconds = None
        if job is not None:
            method.load_state_dict(self.checkpoints[job])
        else:
            style_set = torch.cat([self.tensor(key) for key in styles])
            _, seconds = timed(lambda: method.prepare(PrepareData(styles=style_set)), self.device)
        self._methods[name, job] = method
        return method, seconds

    def domain(self, method: str) -> StyleDomain:
        """The style set a domain method is scored against (stacked once per worker; empty when
        the plan has no metric that compares with it)."""
        if method not in self._domains:
            keys = self.settings.domain.get(method, ())
            images = [self.tensor(key) for key in keys]
            self._domains[method] = StyleDomain(
                name="\n".join(keys),
                images=torch.cat(images) if images else torch.empty(0, 3, 0, 0),
            )
        return self._domains[method]

    def _set_metrics(self) -> list[SetMetric]:
        return [
            METRICS.get(name)()
            for name in self.settings.metrics
            if issubclass(METRICS.get(name), SetMetric)
        ]

    def set_scorer(self) -> SetScorer:
        """Inception for set metrics (and the art-Inception if they need it), loaded on first
        use."""
        if self._set_scorer is None:
            extractors = {metric.extractor for metric in self._set_metrics()}
            self._set_scorer = SetScorer(self.metric_context, extractors)
        return self._set_scorer

    def _image_metrics(self) -> dict[str, Any]:
        for name in self.settings.metrics:
            if name not in self._metrics:
                metric = METRICS.get(name)
                if issubclass(metric, ImageMetric):
                    self._metrics[name] = metric(self.metric_context)
        return self._metrics

    def run(self, cell: Cell, styles: list[str]) -> CellResult:
        """Stylize and score one cell; any exception becomes a failed result."""
        try:
            return self._run(cell, styles)
        except Exception as exc:
            return CellResult(
                cell_id=cell.id,
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
                device=str(self.device),
                worker=self.worker,
            )

    def guides(self, cell: Cell) -> Guides:
        """The suite's semantic maps for a cell's images (None where it has none)."""

        def get(image_key: str) -> torch.Tensor | None:
            key = guide_key(image_key)
            return self.tensor(key) if key in self.images else None

        return Guides(content=get(cell.content), style=get(cell.style))

    def blend(self, key: str) -> StyleBlend | None:
        """The blend a cell's style key names, its images on the device (None: not a blend)."""
        parts = self.settings.blends.get(key)
        if parts is None:
            return None
        return StyleBlend(
            images=tuple(self.tensor(part) for part, _ in parts),
            weights=tuple(weight for _, weight in parts),
        )

    def _run(self, cell: Cell, styles: list[str]) -> CellResult:
        clock = time.perf_counter()
        method, prepare_time = self._method(cell.method, cell.job, styles)
        timings = {"setup": time.perf_counter() - clock - (prepare_time or 0.0)}
        timings["prepare"] = prepare_time or 0.0
        domain = is_domain(cell.method)
        content = self.tensor(cell.content)
        blend = self.blend(cell.style)
        style = None if domain or blend else self.tensor(cell.style)
        guides = self.guides(cell) if method_class(cell.method).needs.guides else None

        def stylize():
            if blend is not None:
                return method.stylize_blend(content, blend, seeds=[cell.seed])
            return method.stylize(content, style, guides=guides, seeds=[cell.seed])

        iterative = method_class(cell.method).iterative
        clock = time.perf_counter()
        result, timing = measure(
            stylize, self.device, iterative, warm_up=cell.method not in self._warm
        )
        timings["stylize"] = time.perf_counter() - clock
        self._warm.add(cell.method)
        output = result.images
        if output.shape != content.shape or not torch.isfinite(output).all():
            raise RuntimeError(f"{cell.method} returned {tuple(output.shape)} or non-finite pixels")
        output = output.clamp(0, 1)
        scores = {"latency": timing.seconds, "peak_memory": timing.peak_mib}
        clock = time.perf_counter()
        metrics = self._image_metrics()  # built on first use, after the first stylize as ever
        scorer = self.set_scorer() if self._set_metrics() else None
        timings["setup"] += time.perf_counter() - clock
        clock = time.perf_counter()
        for name, metric in metrics.items():
            if blend is not None:
                values = metric.score_blend(output, content, blend)
            elif style is None:
                values = metric.score_domain(output, content, self.domain(cell.method))
            else:
                values = metric(output, content, style)
            scores[name] = float(values[0])
        pixels = to_uint8(output)
        features = None if scorer is None else scorer.features(pixels)[0]
        pairs = (
            scorer.pair_features(pixels[0], cell.style, self.images[cell.style])
            if scorer is not None and scorer.views and style is not None
            else {}
        )
        timings["score"] = time.perf_counter() - clock
        return CellResult(
            cell_id=cell.id,
            status="ok",
            output=pixels[0],
            features=features,
            pairs=pairs,
            scores={k: v for k, v in scores.items() if k in self.settings.metrics},
            curves={name: values[0] for name, values in result.curves.items()},
            notes={name: values[0] for name, values in result.notes.items()},
            prepare_time=prepare_time,
            device=device_name(self.device),
            worker=self.worker,
            weights=self._identities(),
            timings=timings,
        )

    def _identities(self) -> list[dict]:
        """Weights of every network this worker has loaded (encoders and metric networks)."""
        identities = [enc.identity for enc in self._encoders.values()]
        identities += [i for metric in self._metrics.values() for i in metric.identities]
        if self._set_scorer is not None:
            identities += self._set_scorer.identities()
        return [identity.as_dict() for identity in identities]

    def score_method(self, job: MethodJob) -> MethodResult:
        """Score a method's output set (set metrics); any exception becomes a failed result."""
        try:
            return self._score_method(job)
        except Exception as exc:
            return MethodResult(
                method=job.method,
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
                device=str(self.device),
                worker=self.worker,
            )

    def _score_method(self, job: MethodJob) -> MethodResult:
        metrics = self._set_metrics()
        result = MethodResult(method=job.method, worker=self.worker)
        if job.throughput is not None:
            clock = time.perf_counter()
            result.throughput = self._throughput(job.method, job.throughput)
            result.timings["throughput"] = time.perf_counter() - clock
        if metrics and job.set_metrics:
            clock = time.perf_counter()
            scorer = self.set_scorer()
            result.timings["setup"] = time.perf_counter() - clock
            clock = time.perf_counter()
            spec = job.reference
            reference = ReferenceSet(
                images=np.stack([self.images[key] for key in spec.keys]),
                files=spec.files,
                preprocess=spec.preprocess,
                image_size=spec.image_size,
            )
            scores, result.set_settings = scorer.score(
                job.features, reference, job.image_scores, metrics, self.settings.seed, job.pairs
            )
            result.set_scores = {name: score.as_dict() for name, score in scores.items()}
            result.timings["set_metrics"] = time.perf_counter() - clock
        result.device = device_name(self.device)
        result.weights = self._identities()
        return result

    def _throughput(self, name: str, spec: ThroughputSpec) -> dict[str, Any]:
        """Images per second on one batch (latency's protocol); an error is returned, not raised,
        so that it never costs the method its set metrics."""
        try:
            method, _ = self._method(name, spec.job, list(spec.styles))
            content = torch.cat([self.tensor(key) for key in spec.contents])
            style = (
                None if is_domain(name) else self.tensor(spec.style).expand_as(content).contiguous()
            )
            seeds = [self.settings.seed + i for i in range(len(content))]
            _, timing = measure(
                lambda: method.stylize(content, style, seeds=seeds),
                self.device,
                method_class(name).iterative,
                warm_up=True,
            )
        except Exception as exc:
            return {"value": None, "error": f"{type(exc).__name__}: {exc}"}
        return {
            "value": len(content) / timing.seconds,
            "batch_size": len(content),
            "seconds": timing.seconds,
            "run_seconds": timing.runs,
            **timing.protocol(),
        }
