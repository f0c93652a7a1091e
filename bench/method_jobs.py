"""Method jobs: the work done once per method rather than per cell (set metrics over all its
outputs, and throughput), planned so that a resumed run redoes only what is not in the method
journal for exactly the method's current successful cells."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from stylebench.images import PREPROCESS
from stylebench.metrics.fid_features import empty_features
from stylebench.metrics.runtime import THROUGHPUT_BATCH, Throughput
from stylebench.metrics.sets import PAIR_VIEWS
from stylebench.plan import DOMAIN_STYLE, Cell, Plan, is_domain, is_reverse
from stylebench.records import CELL_JOURNAL, METHOD_JOURNAL, append_journal, read_journal
from stylebench.registry import METRICS
from stylebench.scheduler import MethodWork
from stylebench.stored_features import StoredFeaturesError, stored_features, stored_pairs
from stylebench.suites.load import ImageRef
from stylebench.training_jobs import TrainingPlan
from stylebench.worker import MethodJob, MethodResult, ReferenceSpec, ThroughputSpec


def set_metrics(plan: Plan) -> list[str]:
    return [name for name in plan.metrics if METRICS.get(name).info.per == "set"]


def pair_views(plan: Plan) -> list[str]:
    """The pairing networks (`PAIR_VIEWS`) in which a planned set metric compares outputs with
    their own style images (`SetData` ``pairs``), whose features cells then store."""
    extractors = {getattr(METRICS.get(name), "extractor", None) for name in set_metrics(plan)}
    return [view for view in PAIR_VIEWS if view in extractors]


def domain_sets(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Keys of the style set each domain method's per-image style metrics compare with: its
    reference set, as for FID/KID (empty when the plan has no such metric)."""
    style_metrics = [
        name
        for name in plan.metrics
        if METRICS.get(name).info.per == "image" and "style" in METRICS.get(name).info.needs
    ]
    if not style_metrics:
        return {}
    return {
        m: tuple(ref.key for ref in plan.reference_set(m)) for m in plan.methods if is_domain(m)
    }


def input_sets(plan: Plan) -> list[tuple[str, tuple[ImageRef, ...]]]:
    """The image sets a run loads on the driver, each with its folder under ``inputs/``: content
    and style, the reference sets where set metrics or domain methods compare with them, and
    the reverse direction's inputs where a reverse entry is planned."""
    suite = plan.suite
    compared = bool(set_metrics(plan) or domain_sets(plan))
    reverse = any(is_reverse(m) for m in plan.methods)
    sets = [
        ("content", suite.content, True),
        ("style", suite.style, True),
        ("reference", suite.reference, compared),
        ("reverse_content", suite.reverse_content, reverse),
        ("reverse_reference", suite.reverse_reference, reverse and compared),
    ]
    return [(role, refs) for role, refs, used in sets if used and refs]


def _reference_spec(plan: Plan, method: str) -> ReferenceSpec:
    refs = plan.reference_set(method)
    return ReferenceSpec(
        keys=tuple(r.key for r in refs),
        files=tuple((r.name, r.sha256) for r in refs),
        preprocess=PREPROCESS,
        image_size=plan.suite.spec.image_size,
    )


def _ok_cells(run_dir: Path, plan: Plan, method: str) -> list[dict[str, Any]]:
    """A method's successful cells, in id order, but for blend cells: a method's set metrics
    (FID ...) are of its outputs for the suite's style images, so that every method's set has
    the same N whether it blends or not."""
    blends = {blend.key for blend in plan.suite.blends}
    cells = read_journal(run_dir / CELL_JOURNAL).values()
    return sorted(
        (
            c
            for c in cells
            if c["method"] == method and c["status"] == "ok" and c["style"] not in blends
        ),
        key=lambda c: c["id"],
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
    references = {m: _reference_spec(plan, m) for m in plan.methods}

    def unreadable(method: str) -> list[str]:
        keys = references[method].keys
        return [bad_images[k] for k in keys if k in bad_images and set_metrics(plan)]

    styles = [r.key for r in plan.suite.style if r.key in images]
    fingerprints: dict[str, str] = {}

    def throughput_of(method: str) -> ThroughputSpec | None:
        """A batch of the method's own inputs (the reverse set's for a reverse entry)."""
        contents = [r.key for r in plan.inputs(method) if r.key in images]
        if Throughput.info.name not in plan.metrics or not contents or not styles:
            return None
        style = DOMAIN_STYLE if is_domain(method) else styles[0]
        first = next(
            c.id
            for c in plan.cells
            if (c.method, c.content, c.style) == (method, contents[0], style)
        )
        return ThroughputSpec(
            tuple(contents[:THROUGHPUT_BATCH]),
            styles[0],
            tuple(styles),
            job=training.cell_jobs.get(first),
        )

    def record(result: MethodResult) -> None:
        entry = {"id": result.method, "inputs": fingerprints[result.method], **asdict(result)}
        append_journal(journal, entry)

    def current(method: str) -> bool:
        return done.get(method, {}).get("inputs") == _fingerprint(_ok_cells(run_dir, plan, method))

    def job(method: str) -> MethodJob | None:
        ok = _ok_cells(run_dir, plan, method)
        fingerprints[method] = _fingerprint(ok)
        if done.get(method, {}).get("inputs") == fingerprints[method]:
            return None
        if problems := unreadable(method):
            record(MethodResult(method, error=f"the reference set is unusable: {problems[0]}"))
            return None
        try:
            features = stored_features(run_dir, ok) if set_metrics(plan) else empty_features()
            views = [] if is_domain(method) else pair_views(plan)
            pairs = {view: stored_pairs(run_dir, ok, view) for view in views}
        except StoredFeaturesError as exc:
            record(MethodResult(method, error=str(exc)))
            return None
        return MethodJob(
            method=method,
            features=features,
            image_scores={name: [c["scores"].get(name) for c in ok] for name in plan.metrics},
            reference=references[method],
            pairs=pairs,
        )

    def early(method: str) -> MethodJob | None:
        spec = throughput_of(method)
        if spec is None or unreadable(method):
            return None
        return MethodJob(
            method, empty_features(), {}, references[method], throughput=spec, set_metrics=False
        )

    needed = bool(set_metrics(plan)) or any(throughput_of(m) for m in plan.methods)
    running = {cell.method for cell in runnable}
    methods = [m for m in plan.methods if m in running or not current(m)] if needed else []
    checkpoints = [spec.job for m in methods if (spec := throughput_of(m)) and spec.job]
    return MethodWork(
        methods=methods, job=job, early=early, on_result=record, checkpoints=checkpoints
    )
