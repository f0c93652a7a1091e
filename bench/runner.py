"""A benchmark run from start to finish: suite -> plan -> Ray -> journal -> record -> MLflow -> report.

Data flows one way. The driver loads and checks every input before any compute starts, writes
each finished cell to the journal at once, and assembles the record, the MLflow runs and the HTML
report from the journal alone. Running the same resolved config (and code) into the same output
folder resumes: cells already in the journal are not computed again.
"""

from __future__ import annotations

import hashlib
import platform
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.environment import git_commit, package_versions
from bench.errors import BenchError
from bench.execute import run_cells, run_training, session
from bench.images import PREPROCESS, ImageError, load_image, to_uint8, write_png
from bench.plan import Plan, make_plan
from bench.progress import CellProgress, print_job
from bench.records import SCHEMA, append_journal, read_journal, write_json_atomic
from bench.registry import METHODS, METRICS
from bench.suites.load import load_suite
from bench.train_task import TrainingJob, TrainingSettings
from bench.training import (
    PreparedCheckpoints,
    TrainingError,
    plan_training,
    prepare_checkpoints,
    style_arrays,
)
from bench.worker import CellResult, WorkerSettings
from methods.core.encoders import load_encoder
from methods.core.weights import WeightsSource, WeightsUnavailable
from metrics.perceptual import EVALUATION_NETWORK, evaluation_description


@dataclass
class RunOptions:
    """Everything ``bench run`` was asked to do."""

    suite: str = "smoke"
    methods: list[str] | None = None
    out: Path = Path("bench-out")
    tracking_uri: str | None = None
    ray_address: str | None = None
    weights: str | None = None
    overrides: list[str] = field(default_factory=list)
    workers: int | None = None
    retrain: bool = False


@dataclass
class RunOutcome:
    run_dir: Path
    report: Path
    tracking_uri: str
    record: dict[str, Any]

    @property
    def failed(self) -> int:
        return sum(1 for cell in self.record["cells"] if cell["status"] != "ok")


def run_key(plan: Plan, commit: str) -> str:
    """Identity of a run: its resolved config and the code that computes it."""
    return hashlib.sha256(f"{plan.config_hash}:{commit}".encode()).hexdigest()


def _check_weights(plan: Plan) -> tuple[WeightsSource, dict[str, str]]:
    """Fail before any compute if the weights cannot be had (one clear line, no traceback).

    Returns the source and the SHA-256 of every backbone's weights (training jobs key on them).
    """
    identities = {}
    try:
        source = WeightsSource.parse(plan.suite.spec.weights, seed=plan.suite.spec.seed)
        archs = {EVALUATION_NETWORK} | {a for m in plan.methods for a in METHODS.get(m).encoders}
        for arch in sorted(archs):
            identities[arch] = load_encoder(arch, source).identity.sha256
    except WeightsUnavailable as exc:
        raise BenchError(str(exc)) from None
    return source, identities


def prepare_jobs(
    plan: Plan,
    jobs: list[TrainingJob],
    images: dict[str, np.ndarray],
    options: RunOptions,
    tracking_uri: str,
    commit: str,
    on_job: Callable[[dict[str, Any]], None],
) -> PreparedCheckpoints:
    """Load, reuse or train (as Ray tasks) the checkpoints of ``jobs``; register new ones in the
    MLflow model registry. ``on_job`` sees each job's entry (source, seconds, path, registry)."""
    from bench.tracking import register_checkpoint

    spec = plan.suite.spec
    settings = TrainingSettings(weights=spec.weights, seed=spec.seed)
    styles = style_arrays(jobs, plan, images)
    provenance = {
        "suite": spec.name,
        "suite_version": spec.version,
        "config_hash": plan.config_hash,
        "git_commit": commit,
        "weights": spec.weights,
    }

    def registered(entry: dict[str, Any]) -> None:
        if entry["source"] in ("trained", "cache"):
            entry["registry"] = register_checkpoint(tracking_uri, entry)
        on_job(entry)

    try:
        return prepare_checkpoints(
            jobs,
            settings,
            styles,
            options.retrain,
            lambda todo: run_training(todo, settings, styles, options.ray_address, options.workers),
            provenance,
            registered,
        )
    except TrainingError as exc:
        raise BenchError(str(exc)) from None


def _load_inputs(plan: Plan, run_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Load every image once on the driver; keep a preprocessed copy in the run folder."""
    images, errors = {}, {}
    size = plan.suite.spec.image_size
    for role, refs in (("content", plan.suite.content), ("style", plan.suite.style)):
        for ref in refs:
            try:
                array = to_uint8(load_image(ref.path, size).unsqueeze(0))[0]
            except ImageError as exc:
                errors[ref.key] = str(exc)
                continue
            images[ref.key] = array
            target = run_dir / "inputs" / role / f"{ref.key}.png"
            if not target.is_file():
                write_png(array, target)
    return images, errors


def _cell_entry(
    plan: Plan, cell_id: str, result: CellResult, output: str | None, split: str | None
) -> dict[str, Any]:
    cell = next(c for c in plan.cells if c.id == cell_id)
    return {
        "id": cell.id,
        "method": cell.method,
        "content": cell.content,
        "style": cell.style,
        "style_split": split,
        "seed": cell.seed,
        "status": result.status,
        "output": output,
        "scores": result.scores,
        "curves": result.curves,
        "prepare_time": result.prepare_time,
        "error": result.error,
        "traceback": result.traceback,
        "device": result.device,
        "worker": result.worker,
        "weights": result.weights,
        "finished": datetime.now(UTC).isoformat(),
    }


def _prepare_time(cells: list[dict[str, Any]], training: list[dict[str, Any]]) -> float | None:
    """Trained methods: the training time of every checkpoint they use (measured when it was
    trained, also when it now comes from the cache), or the loading time of a checkpoint file.
    Others: the slowest worker's prepare."""
    if training:
        seconds = [t.get("seconds") for t in training]
        return None if None in seconds else sum(seconds)
    prepare = [c["prepare_time"] for c in cells if c.get("prepare_time") is not None]
    return max(prepare) if prepare else None


def _method_summaries(
    plan: Plan, cells: list[dict[str, Any]], training: list[dict[str, Any]]
) -> dict[str, Any]:
    summaries = {}
    for name, config in plan.methods.items():
        cls = METHODS.get(name)
        mine = [c for c in cells if c["method"] == name]
        jobs = sorted((t for t in training if t["method"] == name), key=lambda t: t["label"])
        summaries[name] = {
            "config": config.model_dump(mode="json"),
            "summary": cls.summary,
            "paper": cls.paper,
            "needs": asdict(cls.needs),
            "prepare_time": _prepare_time(mine, jobs),
            "training": jobs,
            "cells_ok": sum(1 for c in mine if c["status"] == "ok"),
            "cells_failed": sum(1 for c in mine if c["status"] != "ok"),
        }
    return summaries


def build_record(
    plan: Plan,
    run_id: str,
    key: str,
    commit: str,
    weights: WeightsSource,
    cells: list[dict],
    started: str,
    training: list[dict] | None = None,
) -> dict[str, Any]:
    """The run record: everything reports and comparisons need, and nothing they must recompute."""
    spec = plan.suite.spec
    networks = {w["network"]: w for c in cells for w in c.get("weights", [])}
    devices = sorted({c["device"] for c in cells if c.get("device")})
    complete = all(c["status"] == "ok" for c in cells) and len(cells) == len(plan.cells)
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "run_key": key,
        "status": "complete" if complete else "partial",
        "started": started,
        "finished": datetime.now(UTC).isoformat(),
        "config": plan.resolved_config(),
        "config_hash": plan.config_hash,
        "suite": {
            "name": spec.name,
            "version": spec.version,
            "description": spec.description,
            "source": plan.suite.source,
            "image_size": spec.image_size,
            "seed": spec.seed,
            "file_list_hash": plan.suite.file_list_hash,
            "preprocess": PREPROCESS,
            "content": [
                {
                    "key": r.key,
                    "name": r.name,
                    "sha256": r.sha256,
                    "input": f"inputs/content/{r.key}.png",
                }
                for r in plan.suite.content
            ],
            "style": [
                {
                    "key": r.key,
                    "name": r.name,
                    "sha256": r.sha256,
                    "input": f"inputs/style/{r.key}.png",
                }
                for r in plan.suite.style
            ],
        },
        "environment": {
            "git_commit": commit,
            "packages": package_versions(),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "devices": devices,
        },
        "weights": {
            "source": weights.describe(),
            "random": weights.is_random,
            "networks": sorted(networks.values(), key=lambda w: w["network"]),
        },
        "evaluation": evaluation_description(),
        "metrics": {name: METRICS.get(name).info.as_dict() for name in plan.metrics},
        "methods": _method_summaries(plan, cells, training or []),
        "cells": sorted(cells, key=lambda c: [c["method"], c["content"], c["style"]]),
    }


def run_benchmark(options: RunOptions) -> RunOutcome:
    """Run a suite and return where its record, report and MLflow runs are."""
    from bench.tracking import default_tracking_uri, log_run, preflight
    from reports.html import write_report

    overrides = [*options.overrides, *([f"weights={options.weights}"] if options.weights else [])]
    suite = load_suite(options.suite, overrides)
    plan = make_plan(suite, options.methods)
    out = options.out.resolve()
    tracking_uri = options.tracking_uri or default_tracking_uri(out)
    preflight(tracking_uri)
    weights, identities = _check_weights(plan)
    training = plan_training(plan, identities)
    commit = git_commit()
    key = run_key(plan, commit)
    run_id = f"{suite.spec.name}-{key[:12]}"
    run_dir = out / run_id
    started = datetime.now(UTC).isoformat()
    images, bad_images = _load_inputs(plan, run_dir)
    journal = run_dir / "journal.jsonl"
    training_log = run_dir / "training.jsonl"
    done = {cid: e for cid, e in read_journal(journal).items() if e["status"] == "ok"}
    todo = [c for c in plan.cells if c.id not in done]
    broken = {
        c.id: next(bad_images[k] for k in (c.content, c.style) if k in bad_images)
        for c in todo
        if c.content in bad_images or c.style in bad_images
    }

    def log_job(entry: dict[str, Any]) -> None:
        append_journal(training_log, {**entry, "id": entry["key"]})
        print_job(entry)

    with session():
        jobs = training.for_cells([c for c in todo if c.id not in broken])
        unusable = {j.key: bad_images[s] for j in jobs for s in j.styles if s in bad_images}
        prepared = prepare_jobs(
            plan,
            [j for j in jobs if j.key not in unusable],
            images,
            options,
            tracking_uri,
            commit,
            log_job,
        )
        with CellProgress(total=len(plan.cells), already_done=len(done)) as progress:

            def record_result(result: CellResult) -> None:
                output = None
                if result.status == "ok" and result.output is not None:
                    output = f"images/{result.cell_id}.png"
                    write_png(result.output, run_dir / output)
                split = training.splits.get(result.cell_id)
                append_journal(journal, _cell_entry(plan, result.cell_id, result, output, split))
                detail = result.error or f"{result.scores.get('latency', float('nan')):.2f}s"
                progress.advance(result.cell_id, result.status == "ok", detail)

            runnable = []
            for cell in training.attach(todo):
                job_error = unusable.get(cell.job or "") or (cell.job and prepared.error(cell.job))
                if cell.id in broken:
                    record_result(
                        CellResult(cell_id=cell.id, status="failed", error=broken[cell.id])
                    )
                elif job_error:
                    label = training.jobs[cell.job or ""].label
                    record_result(
                        CellResult(
                            cell_id=cell.id,
                            status="failed",
                            error=f"training {label} failed: {job_error}",
                        )
                    )
                else:
                    runnable.append(cell)
            if runnable:
                settings = WorkerSettings(
                    weights=suite.spec.weights,
                    seed=suite.spec.seed,
                    methods={
                        name: cfg.model_dump(mode="json") for name, cfg in plan.methods.items()
                    },
                    metrics=plan.metrics,
                )
                styles = [r.key for r in suite.style if r.key in images]
                needed = {c.job for c in runnable if c.job}
                run_cells(
                    runnable,
                    settings,
                    images,
                    styles,
                    record_result,
                    options.ray_address,
                    options.workers,
                    {k: v for k, v in prepared.states.items() if k in needed},
                )

    cells = list(read_journal(journal).values())
    jobs_done = list(read_journal(training_log).values())
    record = build_record(plan, run_id, key, commit, weights, cells, started, jobs_done)
    write_json_atomic(run_dir / "record.json", record)
    report = write_report(record, run_dir)
    record["tracking"] = log_run(record, run_dir, tracking_uri)
    write_json_atomic(run_dir / "record.json", record)
    return RunOutcome(run_dir=run_dir, report=report, tracking_uri=tracking_uri, record=record)


@dataclass
class TrainOutcome:
    entries: list[dict[str, Any]]
    tracking_uri: str

    @property
    def failed(self) -> int:
        return sum(1 for entry in self.entries if entry["source"] == "failed")


def train_methods(options: RunOptions) -> TrainOutcome:
    """``bench train``: train (or reuse) every checkpoint the suite's trained methods need."""
    from bench.tracking import default_tracking_uri, preflight

    overrides = [*options.overrides, *([f"weights={options.weights}"] if options.weights else [])]
    suite = load_suite(options.suite, overrides)
    plan = make_plan(suite, options.methods)
    untrained = [name for name in plan.methods if not METHODS.get(name).needs.training]
    if untrained:
        trained = [n for n in METHODS.names() if METHODS.get(n).needs.training]
        raise BenchError(
            f"{', '.join(untrained)}: not trained methods; trained methods: {', '.join(trained)}"
        )
    tracking_uri = options.tracking_uri or default_tracking_uri(options.out.resolve())
    preflight(tracking_uri)
    _, identities = _check_weights(plan)
    training = plan_training(plan, identities)
    entries: list[dict[str, Any]] = []

    def log_job(entry: dict[str, Any]) -> None:
        entries.append(entry)
        print_job(entry)

    with session():
        prepare_jobs(
            plan, list(training.jobs.values()), {}, options, tracking_uri, git_commit(), log_job
        )
    return TrainOutcome(entries=entries, tracking_uri=tracking_uri)
