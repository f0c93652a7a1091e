"""The run record, built from the plan and the journals a run wrote (cells, method jobs,
training jobs): the one place that knows how a journal entry becomes part of the record."""

from __future__ import annotations

import platform
import socket
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from stylebench.environment import package_versions
from stylebench.images import PREPROCESS
from stylebench.method_jobs import set_metrics
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.base import BLEND_DEFAULT, MetricInfo
from stylebench.metrics.color_histogram import BLEND_HISTOGRAM_LOSS
from stylebench.metrics.feature_losses import (
    BLEND_STYLE_LOSS,
    DOMAIN_STYLE_LOSS,
    evaluation_description,
)
from stylebench.metrics.runtime import REPEATS, THROUGHPUT_BATCH
from stylebench.plan import (
    DOMAIN_STYLE,
    Plan,
    can_blend,
    is_domain,
    is_reverse,
    method_class,
    method_of,
)
from stylebench.record_model import (
    BlendEntry,
    BlendPart,
    CellRecord,
    ComputeSeconds,
    EnvironmentInfo,
    GuideEntry,
    ImageEntry,
    MethodSummary,
    MetricEntry,
    NetworkWeights,
    RunRecord,
    SuiteInfo,
    TrainingEntry,
    WeightsInfo,
)
from stylebench.registry import METRICS
from stylebench.suites.load import Blend, ImageRef
from stylebench.worker import CellResult


def cell_entry(
    plan: Plan,
    cell_id: str,
    result: CellResult,
    files: dict[str, str | None],
    split: str | None,
) -> CellRecord:
    """A finished cell as the journal and the record hold it; ``files``: its ``output`` PNG and
    ``features`` array, relative to the run folder (None where the cell has none)."""
    cell = next(c for c in plan.cells if c.id == cell_id)
    return CellRecord.model_validate(
        {
            "id": cell.id,
            "method": cell.method,
            "content": cell.content,
            "style": cell.style,
            "style_split": split,
            "seed": cell.seed,
            "status": result.status,
            **files,
            "scores": result.scores,
            "curves": result.curves,
            "prepare_time": result.prepare_time,
            "error": result.error,
            "traceback": result.traceback,
            "device": result.device,
            "worker": result.worker,
            "weights": result.weights,
            "notes": result.notes,
            "timings": result.timings,
            "finished": datetime.now(UTC).isoformat(),
        },
        strict=False,
    )


def _prepare_time(cells: list[dict[str, Any]], training: list[dict[str, Any]]) -> float | None:
    """Trained methods: the training time of every checkpoint they use (measured when it was
    trained, also when it now comes from the cache), or the loading time of a checkpoint file.
    Others: the slowest worker's prepare."""
    if training:
        seconds = [t.get("seconds") for t in training]
        return None if None in seconds else sum(seconds)
    prepare = [c["prepare_time"] for c in cells if c.get("prepare_time") is not None]
    return max(prepare) if prepare else None


def compute_summary(
    cells: list[dict[str, Any]],
    method_results: dict[str, dict[str, Any]],
    training: list[dict[str, Any]],
) -> dict[str, float]:
    """Seconds of work on workers, summed over the record's cells, method jobs and the
    checkpoints trained for it: the method (``prepare``, ``stylize``, ``throughput``), the metrics
    (``score``) and, apart, loading networks (``setup``). ``compute`` is the method and metric
    work, the part a run exists to do; a run's wall time over it is the harness's overhead."""
    cell_timings = [c.get("timings") or {} for c in cells]
    job_timings = [r.get("timings") or {} for r in method_results.values()]
    trained = [t.get("seconds") or 0.0 for t in training if t.get("source") == "trained"]
    summary = {
        "prepare": sum(t.get("prepare", 0.0) for t in cell_timings) + sum(trained),
        "stylize": sum(t.get("stylize", 0.0) for t in cell_timings),
        "throughput": sum(t.get("throughput", 0.0) for t in job_timings),
        "score": sum(t.get("score", 0.0) for t in cell_timings)
        + sum(t.get("set_metrics", 0.0) for t in job_timings),
        "setup": sum(t.get("setup", 0.0) for t in [*cell_timings, *job_timings]),
    }
    summary["compute"] = sum(v for k, v in summary.items() if k != "setup")
    return summary


def _method_summaries(
    plan: Plan,
    cells: list[dict[str, Any]],
    training: list[dict[str, Any]],
    method_results: dict[str, dict[str, Any]],
) -> dict[str, MethodSummary]:
    summaries = {}
    for name, config in plan.methods.items():
        cls = method_class(name)
        mine = [c for c in cells if c["method"] == name]
        # Both directions of a domain method use (and list) the one training of their method.
        jobs = sorted(
            (t for t in training if t["method"] == method_of(name)), key=lambda t: t["label"]
        )
        result = method_results.get(name, {})
        summaries[name] = MethodSummary(
            method=method_of(name),
            direction=plan.direction(name),
            config=config.model_dump(mode="json"),
            summary=cls.summary,
            paper=cls.paper,
            needs=asdict(cls.needs),
            prepare_time=_prepare_time(mine, jobs),
            training=[TrainingEntry.model_validate(job) for job in jobs],
            cells_planned=sum(1 for c in plan.cells if c.method == name),
            cells_ok=sum(1 for c in mine if c["status"] == "ok"),
            cells_failed=sum(1 for c in mine if c["status"] != "ok"),
            iterative=cls.iterative,
            throughput=(result.get("throughput") or {}).get("value"),
            throughput_details=result.get("throughput"),
            set_scores=result.get("set_scores", {}),
            job_timings=result.get("timings", {}),
            method_error=result.get("error"),
        )
    return summaries


def _guide_entry(plan: Plan, image_key: str) -> GuideEntry | None:
    """The suite's semantic map of an image (None: a semantic method makes one itself)."""
    ref = plan.suite.guides.get(image_key)
    if ref is None:
        return None
    return GuideEntry(name=ref.name, sha256=ref.sha256, input=f"inputs/guides/{image_key}.png")


def _set_evaluation(plan: Plan, method_results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How set metrics were computed (the same for every method) and the reference set."""
    settings = next((r["set_settings"] for r in method_results.values() if r["set_settings"]), {})
    return {
        **settings,
        "reference_images": [
            {"key": r.key, "name": r.name, "sha256": r.sha256} for r in plan.suite.reference_set
        ],
        "reference_role": "reference" if plan.suite.reference else "style",
    }


def _domain_evaluation(plan: Plan) -> dict[str, Any]:
    """How domain methods (one output per content image, no style image) are scored, and for
    each direction which methods go that way, from which inputs, against which set."""
    domain = [m for m in plan.methods if is_domain(m)]
    forward = [m for m in domain if not is_reverse(m)]
    directions = {}
    if forward:
        directions["photo_to_style"] = {
            "methods": forward,
            "inputs": "content",
            "reference": "reference" if plan.suite.reference else "style",
            "reference_images": len(plan.suite.reference_set),
        }
    if reverse := [m for m in domain if is_reverse(m)]:
        directions["style_to_photo"] = {
            "methods": reverse,
            "inputs": "reverse_content",
            "reference": "reverse_reference",
            "reference_images": len(plan.suite.reverse_reference),
        }
    return {
        "methods": domain,
        "cell_style": DOMAIN_STYLE,
        "style_set": "reference" if plan.suite.reference else "style",
        "style_set_images": len(plan.suite.reference_set),
        "directions": directions,
        "style_loss": DOMAIN_STYLE_LOSS,
        "content_metrics": "against the content image (the input painting for style_to_photo), "
        "as for every method",
        "set_metrics": "outputs against the reference set of the method's direction",
    }


def build_record(
    plan: Plan,
    run_id: str,
    key: str,
    commit: str,
    weights: WeightsSource,
    cells: list[dict[str, Any]],
    started: str,
    method_results: dict[str, dict[str, Any]] | None = None,
    training: list[dict[str, Any]] | None = None,
) -> RunRecord:
    """The run record from the plan and the journals (cells, method jobs, training jobs):
    everything reports and comparisons need, and nothing they must recompute."""
    spec = plan.suite.spec
    method_results = method_results or {}
    sources = [*cells, *method_results.values()]
    networks = {w["network"]: w for c in sources for w in c.get("weights", [])}
    devices = sorted({c["device"] for c in cells if c.get("device")})
    complete = all(c["status"] == "ok" for c in cells) and len(cells) == len(plan.cells)
    return RunRecord(
        run_id=run_id,
        run_key=key,
        status="complete" if complete else "partial",
        started=started,
        finished=datetime.now(UTC).isoformat(),
        config=plan.resolved_config(),
        config_hash=plan.config_hash,
        suite=SuiteInfo(
            name=spec.name,
            version=spec.version,
            description=spec.description,
            source=plan.suite.source,
            image_size=spec.image_size,
            seed=spec.seed,
            file_list_hash=plan.suite.file_list_hash,
            datasets=plan.suite.datasets,
            preprocess=PREPROCESS,
            content=[_image_entry(plan, r, "content") for r in plan.suite.content],
            style=[_image_entry(plan, r, "style") for r in plan.suite.style],
            reverse_content=[
                _image_entry(plan, r, "reverse_content") for r in plan.suite.reverse_content
            ],
            reverse_reference=[
                _image_entry(plan, r, "reverse_reference") for r in plan.suite.reverse_reference
            ],
            blends=[_blend_entry(plan, blend) for blend in plan.suite.blends],
        ),
        environment=EnvironmentInfo(
            git_commit=commit,
            packages=package_versions(),
            host=socket.gethostname(),
            platform=platform.platform(),
            devices=devices,
        ),
        weights=WeightsInfo(
            source=weights.describe(),
            random=weights.is_random,
            networks=[NetworkWeights(**networks[name]) for name in sorted(networks)],
        ),
        evaluation={
            **evaluation_description(),
            "runtime": {
                "latency": f"device-synchronised; median of {REPEATS} runs after one warm-up per "
                "worker, or one run for iterative methods",
                "throughput": f"images/s on one batch of up to {THROUGHPUT_BATCH} content images, "
                "same protocol",
                "peak_memory": "peak CUDA allocation on GPU, peak process RSS on CPU",
            },
            **({"sets": _set_evaluation(plan, method_results)} if set_metrics(plan) else {}),
            **({"domain": _domain_evaluation(plan)} if any(map(is_domain, plan.methods)) else {}),
            **({"blends": _blend_evaluation(plan)} if plan.suite.blends else {}),
        },
        metrics={name: metric_entry(METRICS.get(name).info) for name in plan.metrics},
        methods=_method_summaries(plan, cells, training or [], method_results),
        compute_seconds=ComputeSeconds(**compute_summary(cells, method_results, training or [])),
        cells=[
            CellRecord.model_validate(c)
            for c in sorted(cells, key=lambda c: [c["method"], c["content"], c["style"]])
        ],
    )


def _image_entry(plan: Plan, ref: ImageRef, role: str) -> ImageEntry:
    return ImageEntry(
        key=ref.key,
        name=ref.name,
        sha256=ref.sha256,
        input=f"inputs/{role}/{ref.key}.png",
        guide=_guide_entry(plan, ref.key),
    )


def _blend_entry(plan: Plan, blend: Blend) -> BlendEntry:
    return BlendEntry(
        key=blend.key,
        name=blend.name,
        parts=[
            BlendPart(key=key, name=plan.suite.image(key).name, weight=weight)
            for key, weight in plan.suite.blend_parts(blend)
        ],
    )


def _blend_evaluation(plan: Plan) -> dict[str, Any]:
    """How blend cells are scored: which methods ran them, and each style metric's definition."""
    infos = {m: METRICS.get(m).info for m in plan.metrics}
    style_metrics = [m for m, i in infos.items() if i.per == "image" and "style" in i.needs]
    defined = {"style_loss": BLEND_STYLE_LOSS, "histogram_loss": BLEND_HISTOGRAM_LOSS}
    return {
        "methods": [m for m in plan.methods if can_blend(m)],
        "not_blending": [m for m in plan.methods if not can_blend(m)],
        "style_metrics": {m: defined.get(m, f"{m}: {BLEND_DEFAULT}") for m in style_metrics},
        "content_metrics": "against the content image, as for every cell",
        "set_metrics": "blend cells are left out of a method's set metrics and of its "
        "leaderboard means (the same style images for every method); the report shows them "
        "in their own table",
    }


def metric_entry(info: MetricInfo) -> MetricEntry:
    """A metric's identity card as the record holds it."""
    return MetricEntry(
        name=info.name,
        higher_is_better=info.higher_is_better,
        per=info.per,
        unit=info.unit,
        description=info.description,
        needs=list(info.needs),
        requires=list(info.requires),
        default=info.default,
    )
