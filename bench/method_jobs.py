"""Method jobs: the work done once per method rather than per cell (set metrics over all its
outputs, and throughput), planned so that a resumed run redoes only what is not in the method
journal for exactly the method's current successful cells."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from stylebench.images import PREPROCESS
from stylebench.metrics.fid_features import empty_features
from stylebench.metrics.runtime import THROUGHPUT_BATCH, Throughput
from stylebench.plan import DOMAIN_STYLE, Cell, Plan, is_domain
from stylebench.records import CELL_JOURNAL, METHOD_JOURNAL, append_journal, read_journal
from stylebench.registry import METRICS
from stylebench.scheduler import MethodWork
from stylebench.stored_features import StoredFeaturesError, stored_features
from stylebench.training_jobs import TrainingPlan
from stylebench.worker import MethodJob, MethodResult, ReferenceSpec, ThroughputSpec


def set_metrics(plan: Plan) -> list[str]:
    return [name for name in plan.metrics if METRICS.get(name).info.per == "set"]


def domain_set(plan: Plan) -> tuple[str, ...]:
    """Keys of the style set that domain methods' per-image style metrics compare with: the
    reference set, as for FID/KID (empty when no such method or metric is in the plan)."""
    style_metrics = [
        name
        for name in plan.metrics
        if METRICS.get(name).info.per == "image" and "style" in METRICS.get(name).info.needs
    ]
    if not (style_metrics and any(is_domain(m) for m in plan.methods)):
        return ()
    return tuple(ref.key for ref in plan.suite.reference_set)


def _reference_spec(plan: Plan) -> ReferenceSpec:
    refs = plan.suite.reference_set
    return ReferenceSpec(
        keys=tuple(r.key for r in refs),
        files=tuple((r.name, r.sha256) for r in refs),
        preprocess=PREPROCESS,
        image_size=plan.suite.spec.image_size,
    )


def _ok_cells(run_dir: Path, method: str) -> list[dict[str, Any]]:
    cells = read_journal(run_dir / CELL_JOURNAL).values()
    return sorted(
        (c for c in cells if c["method"] == method and c["status"] == "ok"), key=lambda c: c["id"]
    )


def _fingerprint(cells: list[dict[str, Any]]) -> str:
    return hashlib.sha256("\n".join(c["id"] for c in cells).encode()).hexdigest()


def method_work(
    plan: Plan,
    run_dir: Path,
    runnable: list[Cell],
    images: dict[str, np.ndarray],
    bad_images: dict[str, str],
    training: TrainingPlan,
) -> MethodWork:
    """Per-method work (set metrics, throughput) for every method with cells still to run or
    whose result is not in the method journal for exactly its current successful cells; results
    go to that journal. Throughput of a trained method runs the checkpoint of its first cell's
    training job."""
    journal = run_dir / METHOD_JOURNAL
    done = read_journal(journal)
    reference = _reference_spec(plan)
    unreadable = [bad_images[k] for k in reference.keys if k in bad_images and set_metrics(plan)]
    contents = [r.key for r in plan.suite.content if r.key in images]
    styles = [r.key for r in plan.suite.style if r.key in images]
    throughput = (
        ThroughputSpec(tuple(contents[:THROUGHPUT_BATCH]), styles[0], tuple(styles))
        if Throughput.info.name in plan.metrics and contents and styles
        else None
    )
    fingerprints: dict[str, str] = {}

    def throughput_of(method: str) -> ThroughputSpec | None:
        if throughput is None:
            return None
        style = DOMAIN_STYLE if is_domain(method) else throughput.style
        first = next(
            c.id
            for c in plan.cells
            if (c.method, c.content, c.style) == (method, throughput.contents[0], style)
        )
        return replace(throughput, job=training.cell_jobs.get(first))

    def record(result: MethodResult) -> None:
        entry = {"id": result.method, "inputs": fingerprints[result.method], **asdict(result)}
        append_journal(journal, entry)

    def current(method: str) -> bool:
        return done.get(method, {}).get("inputs") == _fingerprint(_ok_cells(run_dir, method))

    def job(method: str) -> MethodJob | None:
        ok = _ok_cells(run_dir, method)
        fingerprints[method] = _fingerprint(ok)
        if done.get(method, {}).get("inputs") == fingerprints[method]:
            return None
        if unreadable:
            record(MethodResult(method, error=f"the reference set is unusable: {unreadable[0]}"))
            return None
        try:
            features = stored_features(run_dir, ok) if set_metrics(plan) else empty_features()
        except StoredFeaturesError as exc:
            record(MethodResult(method, error=str(exc)))
            return None
        return MethodJob(
            method=method,
            features=features,
            image_scores={name: [c["scores"].get(name) for c in ok] for name in plan.metrics},
            reference=reference,
        )

    def early(method: str) -> MethodJob | None:
        spec = throughput_of(method)
        if spec is None or unreadable:
            return None
        return MethodJob(
            method, empty_features(), {}, reference, throughput=spec, set_metrics=False
        )

    needed = bool(set_metrics(plan)) or throughput is not None
    running = {cell.method for cell in runnable}
    methods = [m for m in plan.methods if m in running or not current(m)] if needed else []
    checkpoints = [spec.job for m in methods if (spec := throughput_of(m)) and spec.job]
    return MethodWork(
        methods=methods, job=job, early=early, on_result=record, checkpoints=checkpoints
    )
